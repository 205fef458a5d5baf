/**
 * The Redis write path: applies trades with the market's script and, for the market behind the
 * consolidated price, the consolidated script (btc_script.ts).
 *
 * Guarantees:
 * - Trades are grouped by market keeping their order; each market's trades go in chunks of
 *   `chunkSize` (a new chunk where lateness changes), one market-script call per chunk, followed
 *   for a consolidated market by one consolidated-script call for the same trades. Chunks of one
 *   market are sent in order, so the stream stays in trade order.
 * - Standalone and Sentinel primaries: every call of one `apply()` goes in ONE pipeline (one round
 *   trip), each consolidated call right after its chunk's market call, with the market's stream
 *   as its guard key, so it records nothing the market call refused.
 * - Redis Cluster primaries: each market's calls go in one pipeline to the node of its slot (its
 *   keys share a hash tag), markets in parallel; the consolidated calls go after those answered,
 *   with the trades they accepted, in a pipeline to `P:btc:last`'s slot. Never a cross-slot call.
 *   The first call of each cluster pipeline is an EVAL (it loads the script on whichever node
 *   serves the slot, a promoted replica included), the rest EVALSHA, and no keyless command rides
 *   along, so ioredis re-sends the whole pipeline, in order, on MOVED/ASK/TRYAGAIN.
 *   `legacyKeys` is refused on a cluster: the legacy names hash to different slots.
 * - Each script call is atomic on the server; `apply()` as a whole is not. Because both scripts
 *   are idempotent, a caller that does not know whether a batch landed (timeout, reset) may
 *   re-apply the whole batch: already applied trades are counted as duplicates and change nothing.
 * - `apply()` never retries. Any transport error or error reply rejects with a
 *   {@link TradeWriteError} whose `cause` is the original error; the caller decides (retry, fail
 *   over, outbox). Trades that fail validation reject with {@link InvalidTradeError} before anything
 *   is sent.
 * - Except the market script's refusals of a chunk for its content (`BTCFEED_WRONGTYPE`: a key of
 *   the market has another type; `BTCFEED_INVALID`: a value the script refuses). Those are values:
 *   the chunk is listed in `rejected` with the reason, nothing of it was written, and every other
 *   chunk of the pipeline is applied as usual. Such a chunk is poison for that Redis, not an
 *   outage: retrying it cannot help until an operator fixes the key. A refusal of the consolidated
 *   script (someone SET `P:btc:last` as a string) leaves the trades written to their market and is
 *   reported in `consolidatedRefusal` and logged once per reason.
 * - Fencing (group mode): with an epoch source, every market call carries the writer's epoch and
 *   the script refuses it below the market's fence (`BTCFEED_FENCED`, nothing written); `apply()`
 *   then rejects with a {@link FencedError}: another feeder writes now, this one must step back.
 * - Late trades (`options.late`, or `trade.late`) are applied like live ones, published on
 *   `P:trades` with `"late":true` and never on `btc_price`; see btc_script.ts for why
 *   `P:btc:last` never moves back in trade time.
 * - The standalone pipeline starts with `SCRIPT LOAD` of the scripts, so a restarted or flushed
 *   server (empty script cache) still works without a NOSCRIPT retry that could reorder chunks.
 * - A lazy client that never connected is connected first (with no offline queue it would reject
 *   every command); after that, a disconnected client makes `apply()` reject at once.
 */

import type { ChainableCommander, Cluster, Redis } from "ioredis";
import { type Trade, tradeProblem } from "../trade.ts";
import { APPLY_SCRIPT, APPLY_SCRIPT_SHA } from "./apply_script.ts";
import { BTC_SCRIPT, BTC_SCRIPT_SHA } from "./btc_script.ts";
import { applyArgs, btcArgs, type Chunk, chunksOf, type ScriptArgs } from "./_calls.ts";
import {
  addReply,
  type ApplyResult,
  checked,
  FencedError,
  InvalidTradeError,
  type RejectedChunk,
  rejectionReason,
  TradeWriteError,
} from "./_replies.ts";
import { errorText } from "../redact.ts";
import { connectIfIdle } from "./client.ts";
import { log } from "../log.ts";
import { DEFAULT_WRITER_OPTIONS, type WriterOptions } from "../defaults.ts";

export { DEFAULT_WRITER_OPTIONS, type WriterOptions };
export { type ApplyResult, FencedError, InvalidTradeError, type RejectedChunk, TradeWriteError };

/** The writer's lease epoch at the time of a write; null outside a group (no fence check). */
export type EpochSource = () => number | null;

/** How one {@link TradeWriter.apply} treats its trades. */
export interface ApplyOptions {
  /** Every trade is late (replay, reconciliation, sync); else `trade.late` says. @default false */
  late?: boolean;
}

/** Writes trades to one Redis (standalone, Sentinel or Cluster) with the idempotent scripts. */
export class TradeWriter {
  readonly #redis: Redis | Cluster;
  readonly #options: WriterOptions;
  readonly #epoch: EpochSource;
  #lastRefusal: string | null = null;

  /**
   * `epoch` fences every market call (group mode); absent: no fence check.
   * @throws RangeError when an option is out of range, or legacyKeys on a cluster.
   */
  constructor(
    redis: Redis | Cluster,
    options: Partial<WriterOptions> = {},
    epoch: EpochSource = () => null,
  ) {
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
    if (o.legacyKeys && redis.isCluster) {
      throw new RangeError("legacyKeys cannot be written to a Redis Cluster (cross-slot names)");
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
   * Whether two `apply()` calls in flight are applied in the order sent: true on one connection
   * (standalone, Sentinel); false on a cluster, where ioredis re-sends a redirected (MOVED, ASK,
   * TRYAGAIN) pipeline on its own, possibly after a later one.
   */
  get appliesInOrder(): boolean {
    return !this.#redis.isCluster;
  }

  /**
   * Applies `trades` (any markets, each market in trade order).
   * `isConsolidated(market)` says whether that market currently feeds `P:btc:last` (and the
   * legacy keys when enabled); it is asked once per market per call.
   * @throws InvalidTradeError before sending anything when a trade is invalid.
   * @throws TradeWriteError on any transport error or error reply (outcome unknown).
   */
  async apply(
    trades: readonly Trade[],
    isConsolidated: (market: string) => boolean,
    options: ApplyOptions = {},
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
    const chunks = chunksOf(byMarket, isConsolidated, this.#options.chunkSize, !!options.late);
    const epoch = this.#epoch();
    try {
      await connectIfIdle(this.#redis);
      if (this.#redis.isCluster) await this.#applyCluster(chunks, epoch, result);
      else await this.#applyPipelined(chunks, epoch, result);
    } catch (e) {
      if (e instanceof TradeWriteError) throw e;
      throw new TradeWriteError(`redis write failed: ${errorText(e)}`, { cause: e });
    }
    return result;
  }

  /** Standalone/Sentinel: everything in one pipeline, each consolidated call guarded. */
  async #applyPipelined(chunks: Chunk[], epoch: number | null, result: ApplyResult): Promise<void> {
    const o = this.#options;
    const pipeline = this.#redis.pipeline();
    pipeline.script("LOAD", APPLY_SCRIPT);
    pipeline.script("LOAD", BTC_SCRIPT);
    let calls = 2;
    for (const c of chunks) {
      pipeline.evalsha(APPLY_SCRIPT_SHA, ...applyArgs(o, c, epoch));
      calls++;
      if (c.consolidated) {
        pipeline.evalsha(BTC_SCRIPT_SHA, ...btcArgs(o, c, c.trades, true));
        calls++;
      }
    }
    const replies = checked(await pipeline.exec(), calls, 2);
    let i = 2;
    for (const c of chunks) {
      const accepted = this.#takeReply(result, c, replies[i++]);
      if (c.consolidated) {
        const [err] = replies[i++];
        if (accepted && err) this.#refusedConsolidated(result, rejectionReason(err)!);
      }
    }
  }

  /** Cluster: one pipeline per market (its slot), then the consolidated calls (their slot). */
  async #applyCluster(chunks: Chunk[], epoch: number | null, result: ApplyResult): Promise<void> {
    const o = this.#options;
    const byMarket = new Map<string, Chunk[]>();
    for (const c of chunks) {
      const list = byMarket.get(c.market) ?? [];
      if (!list.length) byMarket.set(c.market, list);
      list.push(c);
    }
    const lists = [...byMarket.values()];
    const answers = await Promise.all(
      lists.map((list) =>
        this.#slotPipeline(APPLY_SCRIPT, APPLY_SCRIPT_SHA, list.map((c) => applyArgs(o, c, epoch)))
      ),
    );
    const btc: { chunk: Chunk; trades: Trade[] }[] = [];
    lists.forEach((list, m) => {
      list.forEach((c, i) => {
        const before = result.outOfOrder.length;
        if (!this.#takeReply(result, c, answers[m][i]) || !c.consolidated) return;
        const missing = new Set(result.outOfOrder.slice(before).map((t) => t.id));
        const trades = c.trades.filter((t) => !missing.has(t.id));
        if (trades.length) btc.push({ chunk: c, trades });
      });
    });
    if (!btc.length) return;
    const replies = await this.#slotPipeline(
      BTC_SCRIPT,
      BTC_SCRIPT_SHA,
      btc.map((b) => btcArgs(o, b.chunk, b.trades, false)),
    );
    for (const [err] of replies) if (err) this.#refusedConsolidated(result, rejectionReason(err)!);
  }

  /**
   * One pipeline of calls of one script whose keys are all in one slot: EVAL first (loads the
   * script on the node serving it), EVALSHA after. Returns the replies; throws on any error that
   * is not a `BTCFEED_` refusal.
   */
  async #slotPipeline(
    script: string,
    sha: string,
    calls: ScriptArgs[],
  ): Promise<[Error | null, unknown][]> {
    const pipeline: ChainableCommander = this.#redis.pipeline();
    calls.forEach((args, i) => {
      if (i === 0) pipeline.eval(script, ...args);
      else pipeline.evalsha(sha, ...args);
    });
    return checked(await pipeline.exec(), calls.length, 0);
  }

  /** Adds a market call's reply; false when the chunk was refused (listed in `rejected`). */
  #takeReply(result: ApplyResult, chunk: Chunk, [err, reply]: [Error | null, unknown]): boolean {
    const reason = err && rejectionReason(err);
    if (reason) {
      result.rejected.push({ market: chunk.market, trades: chunk.trades, reason });
      return false;
    }
    addReply(result, chunk.trades, reply);
    return true;
  }

  #refusedConsolidated(result: ApplyResult, reason: string): void {
    result.consolidatedRefusal = reason;
    if (reason === this.#lastRefusal) return;
    this.#lastRefusal = reason;
    log.error("the consolidated price was not updated: its key is refused", { reason });
  }
}
