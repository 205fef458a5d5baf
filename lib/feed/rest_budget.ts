/**
 * One exchange's REST budget, shared by every backfill of its markets in this process.
 *
 * Guarantees:
 * - Pacing: a token bucket refilled at `share` of the exchange's published rate, holding at most
 *   `burst` units. Over any interval of length T the budget spends at most `burst + rate × T`,
 *   and `burst` is chosen so that one exchange window never sees more than
 *   `(1 + share) / 2` of the published allowance (75 % at the default `share` of 0.5): the rest
 *   is headroom for other clients on the IP and for the clocks not lining up.
 * - Blocks: after a 429 (`Retry-After`) or a ban (Binance 418) nothing is spent before the block
 *   ends, for every market of the exchange. A ban is logged once per ban, with its end.
 * - `acquire` never throws; it resolves early (returning false) only when the signal aborts.
 * - Time comes from the injected `now`; waiting uses `sleep` with the caller's signal.
 */

import type { RestLimits } from "../exchanges/adapter.ts";
import type { RestStatus } from "../domain.ts";
import { log } from "../log.ts";
import { sleep } from "../time.ts";

/** Tuning of {@link RestBudget}. */
export interface RestBudgetOptions {
  /** Fraction of the published steady rate the budget spends. @default 0.5 */
  share: number;
}

/** The defaults of {@link RestBudgetOptions}. */
export const DEFAULT_REST_BUDGET_OPTIONS: Readonly<RestBudgetOptions> = Object.freeze({
  share: 0.5,
});

/** Why the budget is holding requests back. */
export type RestBlockReason = "rate_limited" | "banned";

/** What status.json, `/metrics` and health show about one exchange's REST use. */
export type RestBudgetStatus = RestStatus;

/** Token bucket plus Retry-After / ban blocks for one exchange. */
export class RestBudget {
  readonly exchange: string;
  readonly unitsPerMs: number;
  readonly burst: number;
  readonly pageCost: number;
  #now: () => number;
  #tokens: number;
  #refilledAt: number;
  #blockedUntil = 0;
  #blockReason: RestBlockReason = "rate_limited";
  #counts = { requests: 0, rateLimited: 0, bans: 0, retries: 0 };

  constructor(
    exchange: string,
    limits: RestLimits,
    options: Partial<RestBudgetOptions> = {},
    now: () => number = Date.now,
  ) {
    const share = Math.min(1, Math.max(0.01, options.share ?? DEFAULT_REST_BUDGET_OPTIONS.share));
    this.exchange = exchange;
    this.pageCost = limits.pageCost;
    this.unitsPerMs = (limits.units * share) / limits.windowMs;
    // burst + rate × window ≤ (1 + share) / 2 × units; never below one page, or nothing is sent.
    this.burst = Math.max(limits.pageCost, ((1 - share) / 2) * limits.units);
    this.#now = now;
    this.#tokens = this.burst;
    this.#refilledAt = now();
  }

  /**
   * Waits until `cost` units are available and no block is in force, then spends them.
   * Returns false (spending nothing) when `signal` aborted or `giveUpAtMs` came first.
   */
  async acquire(cost: number, signal?: AbortSignal, giveUpAtMs = Infinity): Promise<boolean> {
    while (!signal?.aborted) {
      const wait = this.#waitMs(cost);
      if (wait <= 0) {
        this.#tokens -= cost;
        this.#counts.requests++;
        return true;
      }
      const left = giveUpAtMs - this.#now();
      if (left <= 0) return false;
      await sleep(Math.min(wait, left, 1_000), signal);
    }
    return false;
  }

  /** Holds every request back until `untilMs`: a 429's Retry-After or a ban's end. */
  block(reason: RestBlockReason, untilMs: number): void {
    const now = this.#now();
    const current = this.#blockedUntil > now ? this.#blockReason : null;
    if (reason === "banned") this.#counts.bans++;
    else this.#counts.rateLimited++;
    if (reason === "banned" && current !== "banned") {
      log.warn("feed.rest_banned", {
        exchange: this.exchange,
        until: new Date(untilMs).toISOString(),
        note: "all REST to this exchange paused until the ban ends",
      });
    }
    if (untilMs > this.#blockedUntil) this.#blockedUntil = untilMs;
    if (reason === "banned" || current === null) this.#blockReason = reason;
    // The exchange counted more than we did: start the bucket again from empty.
    this.#tokens = Math.min(this.#tokens, 0);
  }

  /** Counts a retried failure (5xx, timeout, network error). */
  retried(): void {
    this.#counts.retries++;
  }

  status(): RestBudgetStatus {
    const now = this.#now();
    const blocked = this.#blockedUntil > now;
    return {
      state: blocked ? this.#blockReason : "ok",
      blockedUntil: blocked ? this.#blockedUntil : null,
      ...this.#counts,
      unitsPerSecond: this.unitsPerMs * 1000,
      pageCost: this.pageCost,
    };
  }

  #waitMs(cost: number): number {
    const now = this.#now();
    this.#tokens = Math.min(this.burst, this.#tokens + (now - this.#refilledAt) * this.unitsPerMs);
    this.#refilledAt = now;
    if (this.#blockedUntil > now) return this.#blockedUntil - now;
    if (this.#tokens >= cost) return 0;
    return Math.ceil((cost - this.#tokens) / this.unitsPerMs);
  }
}

/** One {@link RestBudget} per exchange, created on first use. */
export class RestBudgets {
  #budgets = new Map<string, RestBudget>();
  #options: Partial<RestBudgetOptions>;
  #now: () => number;

  constructor(options: Partial<RestBudgetOptions> = {}, now: () => number = Date.now) {
    this.#options = options;
    this.#now = now;
  }

  /** The exchange's budget (the same object for every market of the exchange). */
  for(exchange: string, limits: RestLimits): RestBudget {
    let b = this.#budgets.get(exchange);
    if (!b) {
      b = new RestBudget(exchange, limits, this.#options, this.#now);
      this.#budgets.set(exchange, b);
    }
    return b;
  }

  /** Status per exchange that has a budget. */
  status(): Record<string, RestBudgetStatus> {
    const out: Record<string, RestBudgetStatus> = {};
    for (const [name, b] of this.#budgets) out[name] = b.status();
    return out;
  }
}
