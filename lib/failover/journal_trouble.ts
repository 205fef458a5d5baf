/** What the journal refused: what still goes on, what is dropped, logged once per message. */

import type { AppendOutcome, CommitResult } from "../store/journal.ts";
import { type Trade, tradeProblem } from "../trade.ts";
import { log } from "../log.ts";

/** Tracks the journal's last refusal; see {@link JournalTrouble.note}. */
export class JournalTrouble {
  /** The last refusal's message; null once the journal accepts again. */
  lastError: string | null = null;

  /**
   * Notes one commit's outcome: logs a refusal once per distinct message, logs the recovery.
   * Returns `dropped` so the caller counts it (it is what was neither stored nor written).
   */
  note(outcome: AppendOutcome, dropped: number): number {
    if (outcome.ok) {
      if (this.lastError) log.info("outbox accepting trades again", {});
      this.lastError = null;
      return 0;
    }
    if (this.lastError !== outcome.message) {
      log.error(
        dropped > 0
          ? "outbox refused trades: they are dropped and counted"
          : "journal refused trades: written to the primary from memory only",
        { reason: outcome.reason, dropped, message: outcome.message },
      );
    }
    this.lastError = outcome.message;
    return Math.max(0, dropped);
  }
}

/**
 * What a commit hands on: the stored trades with their seqs; and, when the disk refused the
 * whole batch (disk full, I/O error, busy) and `direct` (on the primary), its valid trades
 * with seq 0, to be written from memory. `dropped` is what goes nowhere.
 */
export function routable(
  { outcome, stored, seqs }: CommitResult,
  submitted: readonly Trade[],
  direct: boolean,
): { trades: Trade[]; seqs: number[]; dropped: number } {
  if (outcome.ok) return { trades: stored, seqs, dropped: 0 };
  const diskRefused = outcome.reason !== "full" && outcome.reason !== "invalid";
  const valid = diskRefused ? submitted.filter((t) => tradeProblem(t) === null) : [];
  if (direct && valid.length) {
    return { trades: valid, seqs: valid.map(() => 0), dropped: outcome.dropped - valid.length };
  }
  // Off the primary the mirror still gets what the disk refused; the count says it is lost.
  return { trades: diskRefused ? valid : stored, seqs, dropped: outcome.dropped };
}
