/**
 * Gap backfill from an exchange's REST trade history.
 *
 * Guarantees:
 * - Returns only trades strictly inside the gap (after `afterTradeId`, before `beforeTradeId`),
 *   each once, in trade order; trades are only ever what the exchange's history served, never
 *   made up.
 * - Always terminates: it stops when the gap is closed (a page reached `beforeTradeId`), when a
 *   page makes no progress, on the first error (HTTP status, timeout, unparsable page), after
 *   `maxTrades` trades, or when the signal aborts. Every request has its own timeout.
 * - Never throws: the outcome says whether the gap closed and, if not, why.
 * - Errors never contain the REST URL's credentials (query strings and user info are left out).
 */

import type { ExchangeAdapter, Reject } from "../exchanges/adapter.ts";
import type { Market, RawTrade } from "../trade.ts";
import { isTradeIdText } from "../trade.ts";
import type { SequenceGap } from "./sequencer.ts";
import { errorText, safeUrl } from "../redact.ts";

/** Tuning of {@link backfill}. */
export interface BackfillOptions {
  /** Timeout of one REST request. @default 10_000 */
  requestTimeoutMs: number;
  /** Most trades fetched for one gap. @default 100_000 */
  maxBackfillTrades: number;
}

/** The defaults of {@link BackfillOptions}. */
export const DEFAULT_BACKFILL_OPTIONS: Readonly<BackfillOptions> = Object.freeze({
  requestTimeoutMs: 10_000,
  maxBackfillTrades: 100_000,
});

/** Outcome of {@link backfill}. */
export interface BackfillResult {
  /** Trades strictly inside the gap, in trade order. */
  trades: RawTrade[];
  /** True when the history reached `beforeTradeId`. */
  closed: boolean;
  /** Pages fetched. */
  pages: number;
  /** Entries the REST parser rejected. */
  rejects: Reject[];
  /** Why it stopped before closing the gap; null when closed. */
  error: string | null;
}

/** What {@link backfill} needs to know about where to fetch. */
export interface BackfillTarget {
  adapter: ExchangeAdapter;
  market: Market;
  /** REST base URL; defaults to the adapter's. */
  restUrl?: string;
}

/** Fetches the trades of `gap` page by page from the exchange's REST trade history. */
export async function backfill(
  target: BackfillTarget,
  gap: SequenceGap,
  options: Partial<BackfillOptions> = {},
  signal?: AbortSignal,
  now: () => number = Date.now,
): Promise<BackfillResult> {
  const o = { ...DEFAULT_BACKFILL_OPTIONS, ...options };
  const out: BackfillResult = { trades: [], closed: false, pages: 0, rejects: [], error: null };
  const rest = target.adapter.rest;
  if (!rest) return { ...out, error: "the exchange has no REST trade history" };
  if (!isTradeIdText(gap.afterTradeId) || !isTradeIdText(gap.beforeTradeId)) {
    return { ...out, error: "gap bounds are not trade ids" };
  }
  const before = BigInt(gap.beforeTradeId);
  const base = (target.restUrl ?? rest.baseUrl).replace(/\/+$/, "");
  let cursor = { tradeId: gap.afterTradeId, ts: gap.afterTs };
  let cursorSeq = BigInt(gap.afterTradeId);

  while (out.trades.length < o.maxBackfillTrades) {
    if (signal?.aborted) return { ...out, error: "aborted" };
    const path = rest.pagePath(target.market, cursor);
    const url = base + (path.startsWith("/") ? path : "/" + path);
    const page = await fetchText(url, o.requestTimeoutMs, signal);
    if (signal?.aborted) return { ...out, error: "aborted" };
    out.pages++;
    if (typeof page !== "string") return { ...out, error: page.error };
    const parsed = rest.parsePage(page, target.market, now());
    out.rejects.push(...parsed.rejects);
    let progressed = false;
    for (const t of parsed.trades) {
      if (!isTradeIdText(t.tradeId)) continue;
      const seq = BigInt(t.tradeId);
      if (seq >= before) {
        out.closed = true;
        break;
      }
      if (seq <= cursorSeq) continue; // overlap with what we already have
      out.trades.push(t);
      cursor = { tradeId: t.tradeId, ts: t.ts };
      cursorSeq = seq;
      progressed = true;
      if (out.trades.length >= o.maxBackfillTrades) break;
    }
    if (out.closed) return out;
    if (cursorSeq + 1n >= before) return { ...out, closed: true };
    if (!progressed) {
      return {
        ...out,
        error: parsed.rejects.length ? "page rejected" : "history made no progress",
      };
    }
  }
  return { ...out, error: `stopped at ${o.maxBackfillTrades} trades (maxBackfillTrades)` };
}

/** GET `url` as text with a timeout; an `{ error }` one-liner instead of throwing. */
async function fetchText(
  url: string,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<string | { error: string }> {
  const ac = new AbortController();
  const onAbort = () => ac.abort();
  signal?.addEventListener("abort", onAbort, { once: true });
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    ac.abort();
  }, timeoutMs);
  try {
    const res = await fetch(url, { signal: ac.signal, headers: { accept: "application/json" } });
    const body = await res.text();
    if (!res.ok) return { error: `HTTP ${res.status} from ${safeUrl(url)}` };
    return body;
  } catch (e) {
    if (timedOut) return { error: `timeout after ${timeoutMs} ms from ${safeUrl(url)}` };
    return { error: `${errorText(e)} (${safeUrl(url)})` };
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener("abort", onAbort);
  }
}
