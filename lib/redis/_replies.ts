/**
 * What a write did and how it failed (re-exported by writer.ts), and the parsing of the scripts'
 * replies (private to lib/redis). Pure: no I/O.
 */

import type { Trade } from "../trade.ts";
import { errorText } from "../redact.ts";

/** What one `TradeWriter.apply` did. */
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
  /** Set when the consolidated script refused (its keys' types): the trades are written. */
  consolidatedRefusal?: string;
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

/**
 * The replies of a pipeline of `calls` commands; throws a TradeWriteError on a missing reply or
 * an error that is not a `BTCFEED_` refusal (the first `strict` replies may not even be that).
 */
export function checked(
  replies: [Error | null, unknown][] | null,
  calls: number,
  strict: number,
): [Error | null, unknown][] {
  if (!replies || replies.length !== calls) {
    const e = new Error("pipeline returned no replies");
    throw new TradeWriteError(`redis write failed: ${e.message}`, { cause: e });
  }
  for (const [i, [err]] of replies.entries()) {
    if (err && /^BTCFEED_FENCED /.test(err.message)) {
      throw new FencedError(`write fenced: ${errorText(err)}`, { cause: err });
    }
    if (err && !(i >= strict && rejectionReason(err))) {
      throw new TradeWriteError(`redis write failed: ${errorText(err)}`, { cause: err });
    }
  }
  return replies;
}

/** The script's content refusal (`BTCFEED_WRONGTYPE ...`, `BTCFEED_INVALID ...`), or null. */
export function rejectionReason(err: Error): string | null {
  const m = /^BTCFEED_(WRONGTYPE|INVALID) (.*)$/s.exec(err.message);
  return m ? `${m[1]} ${m[2].replace(/ script: .*$/s, "")}` : null;
}

export function addReply(result: ApplyResult, chunk: readonly Trade[], reply: unknown): void {
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
