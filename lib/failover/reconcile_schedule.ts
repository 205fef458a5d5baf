/**
 * When the core checks the primary against the journal ({@link Reconciler}): before the first
 * write of a run, before every replay that follows a failover, and every `intervalMs` while
 * writing to the primary. A connection the primary dropped is how a restart, a restore or a
 * promotion usually shows, so checking at every return catches them before any new write.
 *
 * Invariant: it only reads the primary and moves journal watermarks back; the core runs it from
 * its pump, between writes, so no acknowledgement is in flight meanwhile.
 */

import { type MarketReset, type ReconcileJournal, Reconciler } from "./reconciler.ts";
import type { RedisClient } from "../redis/client.ts";
import type { MonotonicClock } from "../time.ts";

export interface ReconcileScheduleDeps {
  redis: RedisClient;
  prefix: string;
  journal: ReconcileJournal;
  markets: readonly string[];
  contiguous: (market: string) => boolean;
  deadlineMs: number;
  intervalMs: number;
  clock: MonotonicClock;
  /** A market found behind: its gap record to store, after its rows became pending. */
  onReset: (reset: MarketReset) => void;
}

export class ReconcileSchedule {
  #deps: ReconcileScheduleDeps;
  #reconciler: Reconciler;
  #lastAt: number | null = null;
  /** True from a reset until the core is back on the primary with the journal drained. */
  repairing = false;

  constructor(deps: ReconcileScheduleDeps) {
    this.#deps = deps;
    this.#reconciler = new Reconciler(deps);
  }

  /** True when a check should run before the next write or replay. */
  get due(): boolean {
    return this.#lastAt === null || this.#deps.clock() - this.#lastAt >= this.#deps.intervalMs;
  }

  /** The primary was left: check again before the replay that returns to it. */
  expire(): void {
    this.#lastAt = null;
  }

  /**
   * Checks every market; returns the resets found (their rows are pending again).
   * @throws when the primary does not answer in time (nothing changed)
   */
  async run(): Promise<MarketReset[]> {
    const resets = await this.#reconciler.check(this.#deps.markets);
    this.#lastAt = this.#deps.clock();
    for (const r of resets) this.#deps.onReset(r);
    if (resets.length) this.repairing = true;
    return resets;
  }
}
