/** The stream's upkeep of the journal's retained tail: small prune transactions, time-boxed. */

import type { Journal } from "../store/journal.ts";
import { log } from "../log.ts";
import { errorText } from "../redact.ts";

let lastError: string | null = null;

/**
 * Prunes the retained tail (never a pending row) for at most about `budgetMs`; returns how many
 * rows went. A failure is logged once per distinct message and retried at the next call.
 */
export function pruneJournal(journal: Journal, budgetMs: number, now = Date.now()): number {
  const until = performance.now() + budgetMs;
  let total = 0;
  try {
    for (let n = journal.prune(now); n > 0 && performance.now() < until; n = journal.prune(now)) {
      total += n;
    }
    lastError = null;
  } catch (e) {
    const message = errorText(e);
    if (message !== lastError) log.warn("journal prune failed; retrying", { error: message });
    lastError = message;
  }
  return total;
}
