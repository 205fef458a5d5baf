/**
 * The one place that decides what a REST trade-history reply means for a backfill: a page, a
 * rate limit (wait, then retry), a ban (stop all REST to the exchange until it ends), a transient
 * failure (retry with backoff) or a permanent one (stop this gap).
 *
 * - 429 → `rate_limited` until `Retry-After` (seconds or an HTTP date); 418 → `banned` until
 *   `Retry-After` (Binance: 2 minutes to 3 days; {@link DEFAULT_BAN_MS} when it names none).
 * - 5xx and 408 → `transient` (Binance: "the outcome is unknown"); a timeout or network error too.
 * - 451 and 403 → `permanent`: the source is blocked here (a location or WAF block); hammering
 *   it helps nothing. Any other 4xx → `permanent`.
 * - HTTP 200 whose body reports an error → the adapter's `errorKind` decides (Kraken's
 *   `EGeneral:Too many requests` is a rate limit); without one it is `permanent`.
 */

import type { ParseResult, RestHistory } from "../exchanges/adapter.ts";

/** A ban whose reply names no end is assumed to last this long (Binance's shortest ban). */
export const DEFAULT_BAN_MS = 120_000;

/** What one REST reply means. */
export type RestReply =
  | { kind: "page"; page: ParseResult }
  /** Wait until `untilMs` (null: the exchange did not say; back off) before any request. */
  | { kind: "rate_limited"; untilMs: number | null; error: string }
  | { kind: "banned"; untilMs: number; error: string }
  | { kind: "transient"; error: string }
  | { kind: "permanent"; error: string };

/** Classifies one HTTP reply of `rest` (status, `Retry-After` header, body). */
export function classifyRestReply(
  rest: RestHistory,
  reply: { status: number; retryAfter: string | null; body: string; where: string },
  market: Parameters<RestHistory["parsePage"]>[1],
  nowMs: number,
): RestReply {
  const { status, where } = reply;
  const error = `HTTP ${status} from ${where}`;
  if (status === 429) {
    return { kind: "rate_limited", untilMs: retryAfterAt(reply.retryAfter, nowMs), error };
  }
  if (status === 418) {
    const until = retryAfterAt(reply.retryAfter, nowMs) ?? nowMs + DEFAULT_BAN_MS;
    return { kind: "banned", untilMs: until, error };
  }
  if (status >= 500 || status === 408) return { kind: "transient", error };
  if (status < 200 || status >= 300) return { kind: "permanent", error };
  const page = rest.parsePage(reply.body, market, nowMs);
  const reported = page.events.find((e) => e.kind === "error");
  if (!reported || reported.kind !== "error") return { kind: "page", page };
  const message = `${reported.message} (${where})`;
  const kind = rest.errorKind?.(reported.message) ?? "permanent";
  if (kind === "rate_limited") return { kind, untilMs: null, error: message };
  return { kind, error: message };
}

/** `Retry-After` as an absolute time: delta seconds or an HTTP date; null when absent or invalid. */
export function retryAfterAt(header: string | null, nowMs: number): number | null {
  if (header === null) return null;
  const text = header.trim();
  if (/^\d+(\.\d+)?$/.test(text)) return nowMs + Math.ceil(Number(text) * 1000);
  const date = Date.parse(text);
  return Number.isFinite(date) ? Math.max(date, nowMs) : null;
}
