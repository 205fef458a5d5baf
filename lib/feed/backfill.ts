/**
 * Gap backfill from an exchange's REST trade history, page by page, under the exchange's budget.
 *
 * Guarantees:
 * - Hands the sink only trades strictly inside the gap (after `afterTradeId`, before
 *   `beforeTradeId`), each once, in trade order, one page at a time: memory holds one page,
 *   whatever the size of the gap. Trades are only ever what the exchange's history served.
 * - Does not stop at a failed request: 429s, bans, 5xx, timeouts and rate-limit bodies are waited
 *   out and retried (see {@link fetchPage}). It stops when the gap is closed (a page reached
 *   `beforeTradeId`), when the history has nothing more (a page without progress: the exchange no
 *   longer has those trades), on a permanent failure (a blocked location, an unknown symbol), when
 *   no page was served for `giveUpAfterMs`, or when the signal aborts. Trades the exchange no
 *   longer has are simply not handed over: the caller counts them exactly from the gap bounds.
 * - Never throws: the outcome says whether the gap closed and, if not, why and where a later
 *   attempt would resume (`resumeAfter`, for keeping the gap pending).
 */

import type { ExchangeAdapter, Reject } from "../exchanges/adapter.ts";
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
   * Stop retrying when no page was served for this long. Until pending gaps are kept in the
   * journal, live trades are held in memory while a backfill runs, so this bounds them.
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
}

/** Outcome of {@link backfill}. */
export interface BackfillResult {
  /** Trades handed to the sink. */
  recovered: number;
  /** True when the history reached `beforeTradeId`. */
  closed: boolean;
  /** Pages served. */
  pages: number;
  /** Failed requests retried (rate limits, bans, 5xx, timeouts). */
  retries: number;
  /** Why it stopped before closing the gap; null when closed. */
  error: string | null;
  /** When not closed: the last trade handed over (or the gap's start); a retry resumes after it. */
  resumeAfter: { tradeId: string; ts: number } | null;
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

/** Fetches the trades of `gap` page by page and hands them to `sink`. */
export async function backfill(
  target: BackfillTarget,
  gap: SequenceGap,
  sink: BackfillSink,
  options: Partial<BackfillOptions> = {},
  signal?: AbortSignal,
  now: () => number = Date.now,
  random: () => number = Math.random,
): Promise<BackfillResult> {
  const o = { ...DEFAULT_BACKFILL_OPTIONS, ...options };
  const out: BackfillResult = {
    recovered: 0,
    closed: false,
    pages: 0,
    retries: 0,
    error: null,
    resumeAfter: null,
  };
  const cursor: Cursor = { tradeId: gap.afterTradeId, ts: gap.afterTs, seq: 0n };
  const stop = (error: string) => ({
    ...out,
    error,
    resumeAfter: { tradeId: cursor.tradeId, ts: cursor.ts },
  });
  const rest = target.adapter.rest;
  if (!rest) return stop("the exchange has no REST trade history");
  if (!isTradeIdText(gap.afterTradeId) || !isTradeIdText(gap.beforeTradeId)) {
    return stop("gap bounds are not trade ids");
  }
  const before = BigInt(gap.beforeTradeId);
  const base = (target.restUrl ?? rest.baseUrl).replace(/\/+$/, "");
  const fetcher: PageFetch = {
    ...o,
    rest,
    market: target.market,
    budget: target.budget,
    now,
    random,
    signal,
  };
  cursor.seq = BigInt(gap.afterTradeId);
  let lastServedAt = now();

  for (;;) {
    const path = rest.pagePath(target.market, cursor);
    const url = base + (path.startsWith("/") ? path : "/" + path);
    const r = await fetchPage(fetcher, url, lastServedAt + o.giveUpAfterMs);
    out.retries += r.retries;
    if ("error" in r) return stop(r.error);
    lastServedAt = now();
    out.pages++;
    if (r.page.rejects.length) sink.rejects(r.page.rejects);
    const { fresh, reachedEnd } = takeFresh(r.page.trades, cursor, before);
    if (fresh.length) {
      out.recovered += fresh.length;
      sink.trades(fresh);
    }
    if (reachedEnd || cursor.seq + 1n >= before) return { ...out, closed: true };
    if (!fresh.length) {
      return stop(r.page.rejects.length ? "page rejected" : "history made no progress");
    }
  }
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
  before: bigint,
): { fresh: RawTrade[]; reachedEnd: boolean } {
  const fresh: RawTrade[] = [];
  for (const t of trades) {
    if (!isTradeIdText(t.tradeId)) continue;
    const seq = BigInt(t.tradeId);
    if (seq >= before) return { fresh, reachedEnd: true };
    if (seq <= cursor.seq) continue;
    fresh.push(t);
    Object.assign(cursor, { tradeId: t.tradeId, ts: t.ts, seq });
  }
  return { fresh, reachedEnd: false };
}

/** The result of a backfill that could not start (`error` says why). */
export function notBackfilled(error: string): BackfillResult {
  return { recovered: 0, closed: false, pages: 0, retries: 0, error, resumeAfter: null };
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
