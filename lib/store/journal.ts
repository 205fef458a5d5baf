/**
 * The journal: every trade btcfeed received, on local disk, in arrival order. Its **pending**
 * part — rows the primary has not acknowledged — is the outbox; its acknowledged part is kept for
 * a while as a **retained tail**, so a primary that lost data can be repaired from it.
 *
 * Storage: SQLite (`node:sqlite`) at `<dataDir>/outbox.sqlite` (the name of earlier versions, kept
 * so an upgrade is one in-place transaction and backups keep working), WAL mode, `busy_timeout`,
 * shared by `stream`, `btcfeed sync` and `health` from separate processes. Every write is one
 * `BEGIN IMMEDIATE` transaction. About 90 bytes a trade on disk (row + per-market index).
 *
 * Guarantees and loss window:
 * - **Committed means durable.** When {@link Journal.append} returns, its trades are committed.
 *   With `synchronous: "FULL"` (the default, `--journal-sync full`) the WAL is fsynced at every
 *   commit: neither `kill -9` nor a power loss loses a committed trade (on storage that honours
 *   fsync). With `"NORMAL"` a commit is not fsynced until the next WAL checkpoint: `kill -9` still
 *   loses nothing committed (the WAL is in the OS page cache), a power loss or kernel crash can
 *   roll back the last commits (typically well under a second of trades). A batch is atomic:
 *   after any crash it is entirely present or entirely absent, never torn.
 * - **Order.** `seq` is `AUTOINCREMENT`: strictly increasing in append order across processes and
 *   never reused, not even after pruning.
 * - **Pending.** Each market has an acknowledgement watermark; pending = rows of the market with a
 *   larger seq that are not dead-lettered. {@link Journal.ack}`(s)` declares every pending row with
 *   `seq <= s` acknowledged (the caller wrote them all); it needs no fsync, as a lost ack only
 *   re-sends rows the primary treats as duplicates. {@link Journal.rewindAfter} moves one market's
 *   watermark back (reconciliation).
 * - **At the limit** (`maxTrades` pending), the newest trades are refused: as many of the batch as
 *   fit are stored and the rest (the batch's tail) are reported as dropped in the outcome. Nothing
 *   pending is ever deleted to make room, and the outbox never drops anything silently.
 * - **Retention.** {@link Journal.prune} deletes acknowledged rows older than `retainMs` or beyond
 *   `retainTrades` rows of their market, in small transactions, never a pending row and never a
 *   market's newest acknowledged row (the restart seed and the reconciliation anchor). The newest
 *   trade ever appended per market is also kept in `markets`, whatever was pruned.
 * - **Disk full / I/O errors.** A full disk (ENOSPC, or the optional `maxPages` cap) is SQLite's
 *   SQLITE_FULL: the batch is rolled back, earlier rows stay intact. `append` then evicts up to a
 *   batch's worth of the oldest acknowledged rows (retention yields to pending trades) and tries
 *   once more; if that fails it returns `{ ok: false, reason: "disk_full" | "io_error" | "busy" }`
 *   with the batch counted as dropped, and never throws. Other methods throw {@link JournalError}.
 * - **Dead letters.** Rows the primary rejected are copied to `dead_letter` in one transaction and
 *   leave the pending set; they stay in the journal until pruned.
 * - Rows are not checksummed: SQLite detects structural corruption (reported as `io_error`), not
 *   flipped bits in a value. `depth()` is a counter kept in the same transactions as the rows
 *   (O(1), exact).
 */

import type { Trade } from "../trade.ts";
import { reviveDead } from "./_journal_dead.ts";
import { Lease, type LeaseInfo } from "./lease.ts";
import { openStore, storeBytes } from "./_sqlite.ts";
import type {
  AppendOutcome,
  CommitResult,
  DeadLetterRow,
  JournalPoint,
  JournalRow,
  LastAppended,
  MarketSummary,
} from "./journal_types.ts";
import {
  classifySqliteError,
  initSchema,
  JournalError,
  type LastRow,
  type PointRow,
  toLastAppended,
  toPoint,
} from "./_journal_sql.ts";
import { advanceMarket, pruneTail, rewindMarket } from "./_journal_tail.ts";
import { JournalConn } from "./_journal_conn.ts";
import { commitTrades } from "./_journal_append.ts";
import { listDeadLetters, peekPending, pendingSummary } from "./_journal_reads.ts";
import { DEFAULT_JOURNAL_OPTIONS, type JournalOptions } from "../defaults.ts";

export { classifySqliteError, JournalError };
export type * from "./journal_types.ts";
export { STORE_FILE } from "./_sqlite.ts";

export { DEFAULT_JOURNAL_OPTIONS, type JournalOptions };

/** The durable, ordered trade journal; see the module comment for its guarantees. */
export class Journal {
  /** `<dataDir>/outbox.sqlite`. */
  readonly path: string;
  readonly options: Readonly<JournalOptions>;
  #c: JournalConn;
  #lease: Lease;
  #marketIds = new Map<string, number>();
  #closed = false;

  private constructor(path: string, c: JournalConn, options: JournalOptions) {
    this.path = path;
    this.#c = c;
    this.options = options;
    this.#lease = new Lease(c.db);
  }

  /**
   * Opens (creating if needed, upgrading an earlier version's outbox) `<dataDir>/outbox.sqlite`.
   * @throws when the directory or database cannot be created or opened, or the file was
   * written by a newer schema.
   */
  static open(dataDir: string, options: Partial<JournalOptions> = {}): Journal {
    const opts = { ...DEFAULT_JOURNAL_OPTIONS, ...options };
    const { db, path } = openStore(dataDir, opts, initSchema);
    return new Journal(path, new JournalConn(db), opts);
  }

  /** The fsync policy in force on this connection, as SQLite reports it (`PRAGMA synchronous`). */
  synchronous(): "FULL" | "NORMAL" | "OTHER" {
    return this.#c.guard(() => this.#c.synchronous());
  }

  /** The limit of pending trades. */
  get maxTrades(): number {
    return this.options.maxTrades;
  }

  /** Stores `trades` in order in one transaction; never throws. See {@link AppendOutcome}. */
  append(trades: readonly Trade[]): AppendOutcome {
    return this.commit(trades).outcome;
  }

  /** Like {@link append}, and also says which trades were stored under which seqs. */
  commit(trades: readonly Trade[]): CommitResult {
    return commitTrades(this.#c, this.#marketIds, this.options.maxTrades, trades);
  }

  /** Up to `limit` pending rows with `seq > afterSeq`, oldest first. */
  peek(limit: number, afterSeq = 0): JournalRow[] {
    return peekPending(this.#c, limit, afterSeq);
  }

  /** The newest seq stored (pending or retained), 0 when empty. */
  maxSeq(): number {
    return this.#c.guard(() => this.#c.number("maxSeq", "seq"));
  }

  /**
   * Acknowledges every pending row with `seq <= upToSeq` (the caller has them all on the primary);
   * they join the retained tail. Returns how many left the pending set.
   */
  ack(upToSeq: number): number {
    const c = this.#c;
    return c.writeUnsynced(() => {
      const min = c.minAcked();
      // Never past the newest row: rows appended later must not be born acknowledged.
      upToSeq = Math.min(upToSeq, c.number("maxSeq", "seq"));
      if (upToSeq <= min) return 0;
      const n = c.number("pendingUpTo", "n", min, upToSeq);
      c.s.ack.run(upToSeq);
      if (n) c.s.addDepth.run(-n);
      return n;
    });
  }

  /** Moves pending rows to the dead letters atomically; returns how many (a row moves once). */
  deadLetter(rows: readonly JournalRow[], reason: string, now = Date.now()): number {
    const s = this.#c.s;
    return this.#c.write(() => {
      let n = 0;
      for (const { seq } of rows) n += Number(s.dead.run(reason, now, seq).changes);
      if (n) s.addDepth.run(-n);
      return n;
    });
  }

  /** Whether retention ever removed a row of `market` (its older trades are gone from disk). */
  hasPruned(market: string): boolean {
    return this.#c.guard(() => {
      const m = this.#c.marketRow(market);
      return m ? this.#c.number("pruned", "n", m.id) > 0 : false;
    });
  }

  /**
   * Puts every dead letter back in the pending set for a replay, atomically; returns the seqs
   * now pending, or null (nothing moved) unless `holder` holds the replay lease.
   */
  retryDeadLetters(holder: string, now = Date.now()): number[] | null {
    const c = this.#c;
    return c.write(() => c.number("leaseHeld", "n", holder, now) === 0 ? null : reviveDead(c.s));
  }

  /** Rows in the dead-letter table. */
  deadLetterCount(): number {
    return this.#c.guard(() => this.#c.number("deadCount", "n"));
  }

  /** Up to `limit` dead-lettered rows, oldest first. */
  deadLetters(limit: number): DeadLetterRow[] {
    return listDeadLetters(this.#c, limit);
  }

  /** Pending trades: the outbox's depth (a counter kept with the rows: O(1)). */
  depth(): number {
    return this.#c.guard(() => this.#c.number("depth", "value"));
  }

  /** True when `maxTrades` or more trades are pending. */
  isFull(): boolean {
    return this.depth() >= this.options.maxTrades;
  }

  /** Bytes on disk: the database file plus its WAL. */
  bytes(): number {
    return storeBytes(this.path);
  }

  /** Per market: pending count and the oldest/newest pending trade. O(depth). */
  summary(): MarketSummary[] {
    return pendingSummary(this.#c);
  }

  /**
   * The newest trade ever appended for `market` (in append order), kept whatever was acknowledged
   * or pruned; null when none was. Seeds the feed's gap and duplicate checks at start-up.
   */
  lastTrade(market: string): LastAppended | null {
    return toLastAppended(this.#c.guard(() => this.#c.s.lastOf.get(market)) as LastRow | undefined);
  }

  /** The newest acknowledged (not dead-lettered) row of `market`, null when none is retained. */
  lastAcked(market: string): JournalPoint | null {
    return this.#c.guard(() => {
      const m = this.#c.marketRow(market);
      return m ? toPoint(this.#c.s.lastAcked.get(m.id, m.acked_seq) as PointRow | undefined) : null;
    });
  }

  /** The oldest row of `market` still in the journal (pending or retained), null when none. */
  oldestRetained(market: string): JournalPoint | null {
    return this.#c.guard(() => {
      const m = this.#c.marketRow(market);
      return m ? toPoint(this.#c.s.oldest.get(m.id) as PointRow | undefined) : null;
    });
  }

  /**
   * Makes the retained rows of `market` whose entry ID is larger than `entryId` pending again, so
   * a replay re-applies them in order; returns how many. Rows of a market are in entry-ID order.
   * Callers must not be acknowledging direct primary writes meanwhile (the core leaves `primary`
   * mode first), since {@link ack} declares every pending row up to a seq written.
   */
  rewindAfter(market: string, entryId: string): number {
    return this.#c.write(() => {
      const m = this.#c.marketRow(market);
      return m ? rewindMarket(this.#c.s, m, entryId) : 0;
    });
  }

  /** Acknowledges `market`'s rows at or below `entryId` (the primary has them); how many. */
  ackThrough(market: string, entryId: string): number {
    return this.#c.write(() => {
      const m = this.#c.marketRow(market);
      return m ? advanceMarket(this.#c.s, m, entryId) : 0;
    });
  }

  /**
   * Deletes up to `pruneChunk` retained rows per market that are older than `retainMs` (by
   * receive time) or beyond `retainTrades` rows of their market, in one short transaction.
   * Returns how many went; call again while it returns more than 0.
   */
  prune(now = Date.now()): number {
    return this.#c.write(() => pruneTail(this.#c.s, this.options, now));
  }

  /** Takes the replay lease; see lease.ts for when a held lease may be taken over. */
  acquireLease(holder: string, ttlMs: number, now = Date.now()): boolean {
    return this.#c.guard(() => this.#lease.acquire(holder, ttlMs, now));
  }

  /** Extends the lease; false means it was lost and the replayer must stop (fencing). */
  renewLease(holder: string, ttlMs: number, now = Date.now()): boolean {
    return this.#c.guard(() => this.#lease.renew(holder, ttlMs, now));
  }

  /** Releases the lease if `holder` holds it. */
  releaseLease(holder: string): void {
    this.#c.guard(() => this.#lease.release(holder));
  }

  /** The holder of an unexpired lease, or null. */
  leaseHolder(now = Date.now()): string | null {
    const info = this.leaseInfo();
    return info && info.expiresAt > now ? info.holder : null;
  }

  /** The lease row (holder and expiry), expired or not. */
  leaseInfo(): LeaseInfo | null {
    return this.#c.guard(() => this.#lease.info());
  }

  /** Closes the database (checkpointing the WAL when this is the last connection). Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#c.db.close();
  }
}
