/**
 * Per-market counting of what was refused, with rate-limited log samples.
 *
 * Guarantees:
 * - Every refused message or trade is counted under its reason; counts only grow.
 * - The log gets at most one line per market and key per `intervalMs` (a flood of bad messages
 *   cannot flood the log), and each line carries the running total so nothing is hidden.
 */

import type { RejectReason } from "../exchanges/adapter.ts";
import { log } from "../log.ts";

/** Why a trade or message of a market was refused: an adapter reason or a feed-level one. */
export type QuarantineReason = RejectReason | "id_regression";

/** Default interval between two log lines about the same refusal (and skipped replay lines). */
export const DEFAULT_REJECT_LOG_INTERVAL_MS = 10_000;

/** Counts and samples one market's refusals. */
export class Quarantine {
  readonly market: string;
  readonly counts: Partial<Record<QuarantineReason, number>> = {};
  #intervalMs: number;
  #now: () => number;
  #loggedAt = new Map<string, number>();

  /** @param intervalMs at most one log line per key per this interval */
  constructor(market: string, now: () => number, intervalMs = DEFAULT_REJECT_LOG_INTERVAL_MS) {
    this.market = market;
    this.#now = now;
    this.#intervalMs = intervalMs;
  }

  /** Counts `n` refusals for `reason` and logs a sample if the reason's interval allows. */
  add(reason: QuarantineReason, sample: string, n = 1): void {
    if (n <= 0) return;
    const total = (this.counts[reason] ?? 0) + n;
    this.counts[reason] = total;
    this.sampled(reason, () => {
      log.warn("feed.quarantined", { market: this.market, reason, total, sample });
    });
  }

  /** Runs `fn` unless it ran for `key` within the interval. */
  sampled(key: string, fn: () => void): void {
    const now = this.#now();
    const at = this.#loggedAt.get(key);
    if (at !== undefined && now - at < this.#intervalMs) return;
    this.#loggedAt.set(key, now);
    fn();
  }
}
