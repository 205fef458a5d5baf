/**
 * Gap backfill from an exchange's REST trade history, page by page, under the exchange's budget.
 *
 * Guarantees:
 * - Hands the sink only trades strictly inside the range (after `afterTradeId`, before the
 *   range's bound), each once, in trade order, one page at a time: memory holds one page,
 *   whatever the size of the gap. Trades are only ever what the exchange's history served.
 * - The bound is asked before every page (`before()`): a bounded gap knows it from the start; a
 *   catch-up after a (re)connect has none until the first live trade is held, and then stops
 *   there. Open-ended, a page with nothing newer means the tape is simply quiet: caught up.
 * - Does not stop at a failed request: 429s, bans, 5xx, timeouts and rate-limit bodies are waited
 *   out and retried (see {@link fetchPage}). It stops when the range is closed (a page reached
 *   the bound, or open-ended nothing newer), when the history has nothing more towards a bound (a
 *   page without progress: the exchange no longer has those trades), on a permanent failure (a
 *   blocked location, an unknown symbol), when no page was served for `giveUpAfterMs` (an attempt
 *   ends; `retryable` says the caller may start another from `resumeAfter`), or when the signal
 *   aborts. Trades the exchange no longer has are simply not handed over: the caller counts them
 *   exactly from the bounds.
 * - Never throws: the outcome says whether the range closed and, if not, why and where a later
 *   attempt resumes (`resumeAfter`: the caller keeps the gap pending in the data directory).
 */

import type { ExchangeAdapter, ParseResult, Reject } from "../exchanges/adapter.ts";
import type { GapRecord } from "../domain.ts";
import type { Market, RawTrade } from "../trade.ts";
import { isTradeIdText } from "../trade.ts";
import type { SequenceGap } from "./sequencer.ts";
import type { BackoffOptions } from "./backoff.ts";
import type { RestBudget } from "./rest_budget.ts";
import { fetchPage, type PageFetch } from "./rest_page_fetcher.ts";

/** Tuning of {@link backfill}. */
export interface BackfillOptions {
  /** Timeout of one REST request. @default 10_000 */
  requestTimeoutMs: number;
  /**
   * One attempt stops retrying when no page was served for this long; the gap stays pending and
   * the caller starts another attempt (held live trades wait on disk meanwhile).
   * @default 600_000
   */
  giveUpAfterMs: number;
  /** Delays between retries of 5xx, timeouts and network errors. @default { initialMs: 500, maxMs: 15_000 } */
  retry: Partial<BackoffOptions>;
}

/** The defaults of {@link BackfillOptions}. */
export const DEFAULT_BACKFILL_OPTIONS: Readonly<BackfillOptions> = Object.freeze({
  requestTimeoutMs: 10_000,
  giveUpAfterMs: 600_000,
  retry: Object.freeze({ initialMs: 500, maxMs: 15_000 }),
});

/** Where backfilled pages go, as they arrive. Must not throw. */
export interface BackfillSink {
  /** One page's new trades, in trade order, all inside the gap. */
  trades(page: RawTrade[]): void;
  /** Entries the REST parser rejected. */
  rejects(rejects: Reject[]): void;
  /** Resolves when the sink can take another page (backpressure); absent: always. */
  ready?(): Promise<void>;
}

/** Outcome of {@link backfill}. */
export interface BackfillResult {
  /** Trades handed to the sink. */
  recovered: number;
  /** True when the history reached the bound (open-ended: had nothing newer). */
  closed: boolean;
  /** The bound in force when it stopped (the first trade not fetched); null: open-ended. */
  bound: string | null;
  /** When not closed: a later attempt may succeed (rate limits, outages, an abort). */
  retryable: boolean;
  /** Pages served. */
  pages: number;
  /** Failed requests retried (rate limits, bans, 5xx, timeouts). */
  retries: number;
  /** Why it stopped before closing the gap; null when closed. */
  error: string | null;
  /** When not closed: the last trade handed over (or the gap's start); a retry resumes after it. */
  resumeAfter: { tradeId: string; ts: number } | null;
}

/**
 * What to fetch: the trades after `afterTradeId`, up to (not including) the bound `before()`
 * returns, asked again before every page; null means open-ended (a catch-up).
 */
export interface BackfillRange {
  afterTradeId: string;
  afterTs: number;
  before(): string | null;
}

/** The range of a gap whose both ends are known. */
export function gapRange(gap: SequenceGap): BackfillRange {
  return { afterTradeId: gap.afterTradeId, afterTs: gap.afterTs, before: () => gap.beforeTradeId };
}

/** What {@link backfill} needs to know about where to fetch. */
export interface BackfillTarget {
  adapter: ExchangeAdapter;
  market: Market;
  /** The exchange's budget, shared with its other markets. */
  budget: RestBudget;
  /** REST base URL; defaults to the adapter's. */
  restUrl?: string;
}

/** Fetches the trades of `range` page by page and hands them to `sink`. */
export async function backfill(
  target: BackfillTarget,
  range: BackfillRange,
  sink: BackfillSink,
  options: Partial<BackfillOptions> = {},
  signal?: AbortSignal,
  now: () => number = Date.now,
  random: () => number = Math.random,
): Promise<BackfillResult> {
  const o = { ...DEFAULT_BACKFILL_OPTIONS, ...options };
  const out: BackfillResult = { ...notBackfilled(""), error: null };
  const cursor: Cursor = { tradeId: range.afterTradeId, ts: range.afterTs, seq: 0n };
  const stop = (error: string, retryable = false) => ({
    ...out,
    error,
    retryable,
    resumeAfter: { tradeId: cursor.tradeId, ts: cursor.ts },
  });
  const rest = target.adapter.rest;
  if (!rest) return stop("the exchange has no REST trade history");
  const bound = (): bigint | null => {
    const b = range.before();
    out.bound = b;
    return b !== null && isTradeIdText(b) ? BigInt(b) : null;
  };
  const firstBound = range.before();
  if (!isTradeIdText(range.afterTradeId) || (firstBound !== null && !isTradeIdText(firstBound))) {
    return stop("gap bounds are not trade ids");
  }
  const base = (target.restUrl ?? rest.baseUrl).replace(/\/+$/, "");
  const { market, budget } = target;
  const fetcher: PageFetch = { ...o, rest, market, budget, now, random, signal };
  cursor.seq = BigInt(range.afterTradeId);
  let lastServedAt = now();

  for (;;) {
    await sink.ready?.();
    if (signal?.aborted) return stop("aborted", true);
    const before = bound();
    if (before !== null && cursor.seq + 1n >= before) return { ...out, closed: true };
    const path = rest.pagePath(target.market, cursor);
    const url = base + (path.startsWith("/") ? path : "/" + path);
    const r = await fetchPage(fetcher, url, lastServedAt + o.giveUpAfterMs);
    out.retries += r.retries;
    if ("error" in r) return stop(r.error, r.retryable);
    lastServedAt = now();
    out.pages++;
    const next = takePage(r.page, cursor, bound, sink, out);
    if (next === "closed") return { ...out, closed: true };
    if (next !== "more") return stop(next);
  }
}

/**
 * Hands a served page's new trades to the sink; says what the loop does next: `closed`, `more`
 * (fetch the next page), or why it stops.
 */
function takePage(
  page: ParseResult,
  cursor: Cursor,
  bound: () => bigint | null,
  sink: BackfillSink,
  out: BackfillResult,
): "closed" | "more" | string {
  if (page.rejects.length) sink.rejects(page.rejects);
  // A live trade held while the page was on its way is a bound too.
  const end = bound();
  const { fresh, reachedEnd } = takeFresh(page.trades, cursor, end);
  if (fresh.length) {
    out.recovered += fresh.length;
    sink.trades(fresh);
  }
  if (reachedEnd || (end !== null && cursor.seq + 1n >= end)) return "closed";
  if (fresh.length) return "more";
  // Open-ended: nothing newer, the tape is quiet. Unless a live trade was held meanwhile.
  if (end === null) return bound() === null ? "closed" : "more";
  return page.rejects.length ? "page rejected" : "history made no progress";
}

/** The last trade handed over (or the gap's start), with its id as a number. */
interface Cursor {
  tradeId: string;
  ts: number;
  seq: bigint;
}

/**
 * The trades of a page after `cursor` and before the gap's end `before`, in order (overlaps
 * with what was already handed over are skipped); moves `cursor` to the last one taken.
 */
function takeFresh(
  trades: RawTrade[],
  cursor: Cursor,
  before: bigint | null,
): { fresh: RawTrade[]; reachedEnd: boolean } {
  const fresh: RawTrade[] = [];
  for (const t of trades) {
    if (!isTradeIdText(t.tradeId)) continue;
    const seq = BigInt(t.tradeId);
    if (before !== null && seq >= before) return { fresh, reachedEnd: true };
    if (seq <= cursor.seq) continue;
    fresh.push(t);
    Object.assign(cursor, { tradeId: t.tradeId, ts: t.ts, seq });
  }
  return { fresh, reachedEnd: false };
}

/** The result of a backfill that could not start (`error` says why). */
export function notBackfilled(error: string): BackfillResult {
  return {
    recovered: 0,
    closed: false,
    bound: null,
    retryable: false,
    pages: 0,
    retries: 0,
    error,
    resumeAfter: null,
  };
}

/** The gap record of `gap` once `recovered` of its trades were delivered: `missing` is exact. */
export function gapRecordOf(
  market: string,
  gap: SequenceGap,
  reason: GapRecord["reason"],
  recovered: number,
): GapRecord {
  const expected = BigInt(gap.beforeTradeId) - BigInt(gap.afterTradeId) - 1n;
  const missing = expected - BigInt(recovered);
  return {
    market,
    reason,
    afterTradeId: gap.afterTradeId,
    beforeTradeId: gap.beforeTradeId,
    fromTs: gap.afterTs,
    toTs: gap.beforeTs,
    recovered,
    missing: missing > 0n ? Number(missing) : 0,
  };
}
