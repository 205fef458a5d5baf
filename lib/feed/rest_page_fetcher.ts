/**
 * Fetches one REST page for a backfill, under the exchange's {@link RestBudget}, retrying until it
 * is served, the failure is permanent, the signal aborts or the caller's give-up time passes.
 *
 * Guarantees:
 * - Every request first spends the page's cost from the budget, so backfill traffic stays under
 *   the budget whatever the number of markets and retries.
 * - 429 and rate-limit bodies block the whole exchange's budget until `Retry-After` (or a backoff
 *   delay when the exchange names none); 418 blocks it until the ban ends. No request of this
 *   process reaches the exchange before then.
 * - 5xx, 408, timeouts and network errors are retried after jittered, capped exponential delays.
 * - Every request has its own timeout. Errors never contain the URL's credentials.
 */

import type { Market } from "../trade.ts";
import type { ParseResult, RestHistory } from "../exchanges/adapter.ts";
import { Backoff, type BackoffOptions } from "./backoff.ts";
import type { RestBudget } from "./rest_budget.ts";
import { classifyRestReply } from "./rest_reply.ts";
import { errorText, safeUrl } from "../redact.ts";
import { sleep } from "../time.ts";

/** What {@link fetchPage} needs; one per backfill. */
export interface PageFetch {
  rest: RestHistory;
  market: Market;
  budget: RestBudget;
  requestTimeoutMs: number;
  retry: Partial<BackoffOptions>;
  now: () => number;
  random: () => number;
  signal?: AbortSignal;
}

/** A served page, or why there will be none (`retryable`: a later attempt may succeed). */
export type PageOutcome =
  | { page: ParseResult; retries: number }
  | { error: string; retryable: boolean; retries: number };

/** GETs `url` until a page is served; gives up at `giveUpAtMs` with the last error. */
export async function fetchPage(
  f: PageFetch,
  url: string,
  giveUpAtMs: number,
): Promise<PageOutcome> {
  const backoff = new Backoff(f.retry, f.random);
  let lastError = "no request sent";
  let retries = 0;
  for (;;) {
    if (f.signal?.aborted) return { error: "aborted", retryable: true, retries };
    const sent = retries === 0 || f.now() < giveUpAtMs
      ? await f.budget.acquire(f.budget.pageCost, f.signal, giveUpAtMs)
      : false;
    if (!sent) {
      const why = f.signal?.aborted ? "aborted" : `gave up retrying: ${lastError}`;
      return { error: why, retryable: true, retries };
    }
    const reply = await httpGet(url, f.requestTimeoutMs, f.signal);
    if (f.signal?.aborted) return { error: "aborted", retryable: true, retries };
    const now = f.now();
    const r = "error" in reply
      ? { kind: "transient" as const, error: reply.error }
      : classifyRestReply(f.rest, { ...reply, where: safeUrl(url) }, f.market, now);
    switch (r.kind) {
      case "page":
        return { page: r.page, retries };
      case "permanent":
        return { error: r.error, retryable: false, retries };
      case "banned":
        f.budget.block("banned", r.untilMs);
        break;
      case "rate_limited": {
        const pace = Math.ceil(f.budget.pageCost / f.budget.unitsPerMs);
        f.budget.block("rate_limited", r.untilMs ?? now + Math.max(backoff.next(), pace));
        break;
      }
      case "transient":
        f.budget.retried();
        await sleep(Math.min(backoff.next(), Math.max(0, giveUpAtMs - now)), f.signal);
        break;
    }
    lastError = r.error;
    retries++;
  }
}

interface HttpReply {
  status: number;
  retryAfter: string | null;
  body: string;
}

/** GET `url` with a timeout; an `{ error }` one-liner instead of throwing. */
async function httpGet(
  url: string,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<HttpReply | { error: string }> {
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
    return { status: res.status, retryAfter: res.headers.get("retry-after"), body };
  } catch (e) {
    if (timedOut) return { error: `timeout after ${timeoutMs} ms from ${safeUrl(url)}` };
    return { error: `${errorText(e)} (${safeUrl(url)})` };
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener("abort", onAbort);
  }
}
