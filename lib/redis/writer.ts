/**
 * The Redis write path: applies trades with the apply script, pipelined.
 *
 * Guarantees:
 * - Trades are grouped by market keeping their order; each market's trades go in chunks of
 *   `chunkSize`, one script call per chunk, and every call of one `apply()` goes in ONE pipeline
 *   (one round trip). Chunks of one market are sent in order, so the stream stays in trade order.
 * - Each script call is atomic on the server; `apply()` as a whole is not. Because the script is
 *   idempotent, a caller that does not know whether a batch landed (timeout, reset) may re-apply
 *   the whole batch: already applied trades are counted as duplicates and change nothing.
 * - `apply()` never retries. Any transport error or error reply rejects with a
 *   {@link TradeWriteError} whose `cause` is the original error; the caller decides (retry, fail
 *   over, outbox). Trades that fail validation reject with {@link InvalidTradeError} before anything
 *   is sent.
 * - Except the script's refusals of a chunk for its content (`BTCFEED_WRONGTYPE`: a key of the
 *   market has another type; `BTCFEED_INVALID`: a value the script refuses). Those are values:
 *   the chunk is listed in `rejected` with the reason, nothing of it was written, and every other
 *   chunk of the pipeline is applied as usual. Such a chunk is poison for that Redis, not an
 *   outage: retrying it cannot help until an operator fixes the key.
 * - The pipeline starts with `SCRIPT LOAD` of the script, so a restarted or flushed server (empty
 *   script cache) still works without a NOSCRIPT retry that could reorder chunks. It costs the
 *   script text once per pipeline, not per chunk.
 * - A lazy client that never connected is connected first (with no offline queue it would reject
 *   every command); after that, a disconnected client makes `apply()` reject at once.
 * - Fencing (group mode): with an epoch source, every call carries the writer's epoch and the
 *   script refuses it below the market's fence (`BTCFEED_FENCED`, nothing written); `apply()`
 *   then rejects with a {@link FencedError}: another feeder writes now, this one must step back.
 * - Not Redis Cluster-safe yet: the per-market keys share a hash tag, but `P:btc:last` and the
 *   legacy keys are in other slots and go through the same script call.
 */

import type { ChainableCommander, Redis } from "ioredis";
import { type Trade, tradeProblem } from "../trade.ts";
import { APPLY_NUM_KEYS, APPLY_SCRIPT, APPLY_SCRIPT_SHA, encodeTradeArg } from "./apply_script.ts";
import { btcLastKey, LEGACY_KEYS, marketKeys, tradesChannel } from "./keys.ts";
import { errorText } from "../redact.ts";
import { connectIfIdle } from "./client.ts";
import { DEFAULT_WRITER_OPTIONS, type WriterOptions } from "../defaults.ts";

export { DEFAULT_WRITER_OPTIONS, type WriterOptions };

/** What one {@link TradeWriter.apply} did. */
export interface ApplyResult {
  /** Trades appended (new). */
  applied: number;
  /** Trades already in the stream: nothing changed. */
  duplicates: number;
  /** Trades older than what trimming removed: nothing changed (probably applied before). */
  stale: number;
  /** Missing trades older than the newest entry: nothing changed; the caller must report them. */
  outOfOrder: Trade[];
  /** Chunks the script refused for their content: nothing of them was written. */
  rejected: RejectedChunk[];
}

/** Trades of one market the apply script refused, and why (its reply without the prefix). */
export interface RejectedChunk {
  market: string;
  trades: Trade[];
  reason: string;
}

/** A write that failed or whose outcome is unknown; `cause` is the original error. */
export class TradeWriteError extends Error {
  override name = "TradeWriteError";
  constructor(message: string, options: { cause: unknown }) {
    super(message, options);
  }
}

/**
 * A write refused because a newer writer raised the market's fence (group mode): this feeder
 * lost the writer lease. Nothing of the refused chunk was written.
 */
export class FencedError extends TradeWriteError {
  override name = "FencedError";
}

/** The writer's lease epoch at the time of a write; null outside a group (no fence check). */
export type EpochSource = () => number | null;

/** A trade that can never be written (bad field); nothing of the batch was sent. */
export class InvalidTradeError extends Error {
  override name = "InvalidTradeError";
  /** The offending trade. */
  readonly trade: Trade;
  constructor(message: string, trade: Trade) {
    super(message);
    this.trade = trade;
  }
}

/** Writes trades to one Redis with the idempotent apply script. */
export class TradeWriter {
  readonly #redis: Redis;
  readonly #options: WriterOptions;
  readonly #epoch: EpochSource;

  /**
   * `epoch` fences every call (group mode); absent: no fence check.
   * @throws RangeError when an option is out of range.
   */
  constructor(redis: Redis, options: Partial<WriterOptions> = {}, epoch: EpochSource = () => null) {
    const o = { ...DEFAULT_WRITER_OPTIONS, ...options };
    if (!Number.isSafeInteger(o.maxTrades) || o.maxTrades < 1) {
      throw new RangeError(`maxTrades must be a positive integer, got ${o.maxTrades}`);
    }
    if (!Number.isSafeInteger(o.chunkSize) || o.chunkSize < 1 || o.chunkSize > 1000) {
      throw new RangeError(`chunkSize must be 1..1000, got ${o.chunkSize}`);
    }
    if (!Number.isSafeInteger(o.candleRetentionMinutes) || o.candleRetentionMinutes < 1) {
      throw new RangeError(
        `candleRetentionMinutes must be a positive integer, got ${o.candleRetentionMinutes}`,
      );
    }
    this.#redis = redis;
    this.#options = o;
    this.#epoch = epoch;
  }

  /** The effective options. */
  get options(): Readonly<WriterOptions> {
    return this.#options;
  }

  /**
   * Applies `trades` (any markets, each market in trade order) in one pipeline.
   * `isConsolidated(market)` says whether that market currently feeds `P:btc:last` (and the
   * legacy keys when enabled); it is asked once per market per call.
   * @throws InvalidTradeError before sending anything when a trade is invalid.
   * @throws TradeWriteError on any transport error or error reply (outcome unknown).
   */
  async apply(
    trades: readonly Trade[],
    isConsolidated: (market: string) => boolean,
  ): Promise<ApplyResult> {
    const result: ApplyResult = {
      applied: 0,
      duplicates: 0,
      stale: 0,
      outOfOrder: [],
      rejected: [],
    };
    if (trades.length === 0) return result;
    const byMarket = new Map<string, Trade[]>();
    for (const t of trades) {
      let list = byMarket.get(t.market);
      const reason = tradeProblem(t);
      if (reason) throw new InvalidTradeError(`invalid trade (${reason})`, t);
      if (!list) byMarket.set(t.market, list = []);
      list.push(t);
    }

    const pipeline = this.#redis.pipeline();
    pipeline.script("LOAD", APPLY_SCRIPT);
    const chunks = this.#queueChunks(pipeline, byMarket, isConsolidated);

    let replies: [Error | null, unknown][] | null;
    try {
      await connectIfIdle(this.#redis);
      replies = await pipeline.exec();
    } catch (e) {
      throw new TradeWriteError(`redis write failed: ${errorText(e)}`, { cause: e });
    }
    if (!replies || replies.length !== chunks.length + 1) {
      const e = new Error("pipeline returned no replies");
      throw new TradeWriteError(`redis write failed: ${e.message}`, { cause: e });
    }
    for (const [i, [err]] of replies.entries()) {
      if (err && /^BTCFEED_FENCED /.test(err.message)) {
        throw new FencedError(`write fenced: ${errorText(err)}`, { cause: err });
      }
      if (err && !(i > 0 && rejectionReason(err))) {
        throw new TradeWriteError(`redis write failed: ${errorText(err)}`, { cause: err });
      }
    }
    for (let i = 0; i < chunks.length; i++) {
      const [err, reply] = replies[i + 1];
      const reason = err && rejectionReason(err);
      if (reason) result.rejected.push({ market: chunks[i][0].market, trades: chunks[i], reason });
      else addReply(result, chunks[i], reply);
    }
    return result;
  }

  /** Queues one script call per chunk of each market's trades; returns the chunks in order. */
  #queueChunks(
    pipeline: ChainableCommander,
    byMarket: Map<string, Trade[]>,
    isConsolidated: (market: string) => boolean,
  ): Trade[][] {
    const o = this.#options;
    const chunks: Trade[][] = [];
    const btcLast = btcLastKey(o.prefix);
    const channel = tradesChannel(o.prefix);
    const epoch = this.#epoch();
    for (const [market, list] of byMarket) {
      const keys = marketKeys(o.prefix, market);
      const consolidated = isConsolidated(market) ? "1" : "0";
      for (let i = 0; i < list.length; i += o.chunkSize) {
        const chunk = list.slice(i, i + o.chunkSize);
        const args: (string | number)[] = [
          keys.trades,
          keys.last,
          keys.candles,
          btcLast,
          LEGACY_KEYS.price,
          LEGACY_KEYS.updateTime,
          LEGACY_KEYS.history,
          keys.fence,
          market,
          o.maxTrades,
          consolidated,
          o.legacyKeys ? "1" : "0",
          channel,
          LEGACY_KEYS.channel,
          o.candleRetentionMinutes,
          epoch === null ? "" : String(epoch),
        ];
        for (const t of chunk) args.push(encodeTradeArg(t));
        pipeline.evalsha(APPLY_SCRIPT_SHA, APPLY_NUM_KEYS, ...args);
        chunks.push(chunk);
      }
    }
    return chunks;
  }
}

/** The script's content refusal (`BTCFEED_WRONGTYPE ...`, `BTCFEED_INVALID ...`), or null. */
function rejectionReason(err: Error): string | null {
  const m = /^BTCFEED_(WRONGTYPE|INVALID) (.*)$/s.exec(err.message);
  return m ? `${m[1]} ${m[2].replace(/ script: .*$/s, "")}` : null;
}

function addReply(result: ApplyResult, chunk: Trade[], reply: unknown): void {
  if (!Array.isArray(reply) || reply.length < 3) {
    const e = new Error(`unexpected script reply ${JSON.stringify(reply)?.slice(0, 80)}`);
    throw new TradeWriteError(`redis write failed: ${e.message}`, { cause: e });
  }
  result.applied += Number(reply[0]);
  result.duplicates += Number(reply[1]);
  result.stale += Number(reply[2]);
  if (reply.length > 3) {
    const byId = new Map(chunk.map((t) => [t.id, t]));
    for (const id of reply.slice(3)) {
      const t = byId.get(String(id));
      if (t) result.outOfOrder.push(t);
    }
  }
}
