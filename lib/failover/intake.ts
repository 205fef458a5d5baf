/**
 * Group commit: the way into the failover core. Submitted trades are buffered and committed to the
 * journal together — at the end of the event-loop turn they arrived in (`setImmediate`: after
 * the turn's socket reads, before any timer), or at once when `commitMaxTrades` wait — so one
 * commit (one fsync with `--journal-sync full`) carries everything that arrived while the last
 * one ran: no wait when idle, larger groups under load. Only what a commit stored is handed on:
 * a trade counts as received once it is on disk. What is still buffered at a `kill -9` never
 * counted; the restart's gap check recovers it from the exchange where the exchange allows.
 */

import { clearImmediate, setImmediate } from "node:timers";
import type { Trade } from "../trade.ts";
import type { CommitResult, Journal } from "../store/journal.ts";
import { DEFAULT_JOURNAL_INTAKE_OPTIONS, type JournalIntakeOptions } from "../defaults.ts";

export { DEFAULT_JOURNAL_INTAKE_OPTIONS, type JournalIntakeOptions };

/** Buffers trades and commits them to the journal in groups; see the module comment. */
export class JournalIntake {
  #journal: Journal;
  #options: JournalIntakeOptions;
  #onCommit: (result: CommitResult, submitted: Trade[]) => void;
  #buffer: Trade[] = [];
  #scheduled: ReturnType<typeof setImmediate> | null = null;

  constructor(
    journal: Journal,
    onCommit: (result: CommitResult, submitted: Trade[]) => void,
    options: Partial<JournalIntakeOptions> = {},
  ) {
    this.#journal = journal;
    this.#onCommit = onCommit;
    this.#options = { ...DEFAULT_JOURNAL_INTAKE_OPTIONS, ...options };
  }

  /** Trades submitted and not yet committed. */
  get buffered(): number {
    return this.#buffer.length;
  }

  /** Buffers `trades` (in order); never blocks longer than one commit, never throws. */
  submit(trades: readonly Trade[]): void {
    for (const t of trades) this.#buffer.push(t);
    if (this.#buffer.length >= this.#options.commitMaxTrades) this.flush();
    else this.#scheduled ??= setImmediate(() => this.flush());
  }

  /** Commits everything buffered now (also on close). */
  flush(): void {
    if (this.#scheduled !== null) clearImmediate(this.#scheduled);
    this.#scheduled = null;
    if (!this.#buffer.length) return;
    const batch = this.#buffer;
    this.#buffer = [];
    this.#onCommit(this.#journal.commit(batch), batch);
  }
}
