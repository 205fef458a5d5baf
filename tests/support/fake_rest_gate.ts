/**
 * The fake exchanges' REST rate limiter and fault injector, enforcing limits the way the real
 * exchanges do (shared/docs/exchanges.md):
 * - `units` per fixed `windowMs`; a request over it gets the protocol's rate-limit reply (429 with
 *   `Retry-After` up to the window's end; Kraken: HTTP 200 with `EGeneral:Too many requests`).
 * - A request that arrives while a Retry-After (or the window a limit reply was given in) has not
 *   passed is a *violation*; after `banAfterViolations` of them the IP is banned: 418 with
 *   `Retry-After` for `banMs` (Binance's answer to clients that keep going after 429s).
 * - Faults, configurable per test: a burst of 5xx for `failForMs` from the `failFromRequest`-th
 *   request; a ban forced at the `banAtRequest`-th request (another client on the IP got it);
 *   every page delayed by `pageDelayMs`.
 * Everything is recorded so tests can assert what the client did: request times and costs,
 * violations, bans, rate-limit replies.
 */

import type { RestResponse } from "./fake_protocols/protocol.ts";

/** Limits a fake exchange enforces on its REST API. */
export interface FakeRestLimits {
  units: number;
  windowMs: number;
  /** Units one request costs (Binance `historicalTrades`: 25). @default 1 */
  cost?: number;
  /** Violations before a ban. @default 3 */
  banAfterViolations?: number;
  /** Length of a ban. @default 2_000 */
  banMs?: number;
}

/** Faults a fake exchange injects into its REST API. */
export interface FakeRestFaults {
  /** From this request on (1-based), answer `failStatus` for `failForMs`. */
  failFromRequest?: number;
  /** @default 503 */
  failStatus?: number;
  /** @default 10_000 */
  failForMs?: number;
  /** Ban the IP at this request (1-based) for `banMs`, whatever the client did. */
  banAtRequest?: number;
  /** @default 3_000 */
  banMs?: number;
  /** Delay every reply by this long. */
  pageDelayMs?: number;
}

/** What the gate saw. */
export interface RestGateStats {
  /** Every request: arrival time (ms) and cost. */
  requests: { at: number; cost: number }[];
  /** Rate-limit replies given. */
  rateLimited: number;
  /** Requests that arrived before a Retry-After (or ban) had passed. */
  violations: number;
  /** 418 replies given. */
  bans: number;
  /** 5xx replies given. */
  failures: number;
  /** Most units requested in any interval of `windowMs` (sliding), refused ones included. */
  maxUnitsIn(windowMs: number): number;
}

/** How a protocol says "too many requests" and "banned". */
export interface RateLimitReplies {
  rateLimited(retryAfterSeconds: number): RestResponse;
  banned(untilMs: number, retryAfterSeconds: number): RestResponse;
}

/** Default replies: 429 / 418 with `Retry-After`, Binance-style bodies. */
export const HTTP_RATE_LIMIT_REPLIES: RateLimitReplies = {
  rateLimited: (s) => ({
    status: 429,
    headers: { "retry-after": String(s) },
    body: `{"code":-1003,"msg":"Too much request weight used; current limit is exceeded."}`,
  }),
  banned: (until, s) => ({
    status: 418,
    headers: { "retry-after": String(s) },
    body: `{"code":-1003,"msg":"Way too much request weight used; IP banned until ${until}."}`,
  }),
};

/** One fake exchange's REST gate. */
export class RestGate {
  #limits: FakeRestLimits | undefined;
  #faults: FakeRestFaults;
  #replies: RateLimitReplies;
  #windowStart = 0;
  #windowUnits = 0;
  #blockedUntil = 0;
  #bannedUntil = 0;
  #violations = 0;
  #failUntil = 0;
  readonly stats: RestGateStats;

  constructor(
    limits: FakeRestLimits | undefined,
    faults: FakeRestFaults = {},
    replies = HTTP_RATE_LIMIT_REPLIES,
  ) {
    this.#limits = limits;
    this.#faults = faults;
    this.#replies = replies;
    const requests: RestGateStats["requests"] = [];
    this.stats = {
      requests,
      rateLimited: 0,
      violations: 0,
      bans: 0,
      failures: 0,
      maxUnitsIn: (windowMs) => maxUnitsIn(requests, windowMs),
    };
  }

  /** Delay to apply before answering. */
  get delayMs(): number {
    return this.#faults.pageDelayMs ?? 0;
  }

  /** The reply that replaces the page for a request arriving at `now`, or null to serve it. */
  admit(now: number): RestResponse | null {
    const cost = this.#limits?.cost ?? 1;
    this.stats.requests.push({ at: now, cost });
    const n = this.stats.requests.length;
    const f = this.#faults;
    if (now < this.#bannedUntil) {
      this.stats.violations++;
      return this.#ban(now, this.#bannedUntil);
    }
    if (f.banAtRequest === n) return this.#ban(now, now + (f.banMs ?? 3_000));
    if (f.failFromRequest === n) this.#failUntil = now + (f.failForMs ?? 10_000);
    if (now < this.#failUntil) {
      this.stats.failures++;
      return { status: f.failStatus ?? 503, body: `{"code":-1001,"msg":"Internal error."}` };
    }
    return this.#limits ? this.#limit(now, cost, this.#limits) : null;
  }

  #limit(now: number, cost: number, l: FakeRestLimits): RestResponse | null {
    if (now < this.#blockedUntil) {
      this.stats.violations++;
      if (++this.#violations >= (l.banAfterViolations ?? 3)) {
        return this.#ban(now, now + (l.banMs ?? 2_000));
      }
    }
    if (now - this.#windowStart >= l.windowMs) {
      this.#windowStart = now - ((now - this.#windowStart) % l.windowMs);
      this.#windowUnits = 0;
    }
    if (this.#windowUnits + cost > l.units) {
      const end = this.#windowStart + l.windowMs;
      this.#blockedUntil = end;
      this.stats.rateLimited++;
      return this.#replies.rateLimited(Math.max(1, Math.ceil((end - now) / 1000)));
    }
    this.#windowUnits += cost;
    return null;
  }

  #ban(now: number, until: number): RestResponse {
    this.#bannedUntil = Math.max(this.#bannedUntil, until);
    this.stats.bans++;
    const seconds = Math.max(1, Math.ceil((this.#bannedUntil - now) / 1000));
    return this.#replies.banned(this.#bannedUntil, seconds);
  }
}

function maxUnitsIn(requests: { at: number; cost: number }[], windowMs: number): number {
  let best = 0, sum = 0, lo = 0;
  for (let hi = 0; hi < requests.length; hi++) {
    sum += requests[hi].cost;
    while (requests[hi].at - requests[lo].at >= windowMs) sum -= requests[lo++].cost;
    best = Math.max(best, sum);
  }
  return best;
}
