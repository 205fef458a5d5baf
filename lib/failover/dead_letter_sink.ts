/**
 * Where trades the primary refused for their content go (a key of the wrong type, a value the
 * apply script refuses): the journal's dead letters, so they never block other trades or markets.
 *
 * Guarantees:
 * - A refused trade is stored as a dead letter (counted in status, `/metrics`, health `warn`) or,
 *   when the store fails, reported as dropped to the caller, who counts it: never lost silently.
 * - One log line per market and reason per process, not one per batch: a poisoned market keeps
 *   being refused until an operator fixes the key, and the log must stay readable meanwhile.
 */

import type { Journal, JournalRow } from "../store/journal.ts";
import type { RejectedChunk } from "../redis/writer.ts";
import { errorText } from "../redact.ts";
import { log } from "../log.ts";

export class DeadLetterSink {
  readonly #journal: Journal;
  readonly #logged = new Set<string>();

  constructor(journal: Journal) {
    this.#journal = journal;
  }

  /**
   * Moves the journal rows of refused live trades to the dead letters; returns how many could
   * not be stored (not journaled, or the store failed): the caller counts them as dropped.
   */
  store(chunks: readonly RejectedChunk[], rows: readonly JournalRow[][]): number {
    let dropped = 0;
    chunks.forEach((c, i) => {
      const journaled = rows[i].filter((r) => r.seq > 0);
      dropped += rows[i].length - journaled.length;
      try {
        if (journaled.length) this.#journal.deadLetter(journaled, c.reason);
      } catch (e) {
        dropped += journaled.length;
        log.error("dead letters could not be stored: refused trades are dropped and counted", {
          market: c.market,
          dropped: journaled.length,
          error: errorText(e),
        });
      }
    });
    this.note(chunks);
    return dropped;
  }

  /** Logs refusals (live or replayed) the first time each market and reason is seen. */
  note(chunks: readonly RejectedChunk[]): void {
    for (const c of chunks) {
      const key = `${c.market}\n${c.reason}`;
      if (this.#logged.has(key)) continue;
      this.#logged.add(key);
      log.error(
        "the primary refused trades for their content; they are kept as dead letters " +
          "(fix the key, then `btcfeed sync --dead-letters --retry`)",
        { market: c.market, reason: c.reason, count: c.trades.length },
      );
    }
  }
}
