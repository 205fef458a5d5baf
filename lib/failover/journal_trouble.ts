/** What the journal refused, logged once per distinct message and kept for the status. */

import type { AppendOutcome } from "../store/journal.ts";
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
