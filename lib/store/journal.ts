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

import type { DatabaseSync, StatementSync } from "node:sqlite";
import type { Trade } from "../trade.ts";
import { reviveDead } from "./_journal_dead.ts";
import { Lease, type LeaseInfo } from "./lease.ts";
import { immediate, openStore, prepareAll } from "./_sqlite.ts";
import {
  type AppendOutcome,
  appendOutcome,
  type CommitResult,
  type DeadLetterRow,
  type JournalPoint,
  type JournalRow,
  type LastAppended,
  type MarketSummary,
} from "./journal_types.ts";
import {
  classifySqliteError,
  type GroupRow,
  initSchema,
  isStorable,
  JournalError,
  type LastRow,
  type MarketRow,
  type PointRow,
  type Row,
  SQL,
  toLastAppended,
  toPoint,
  toTrade,
} from "./_journal_sql.ts";
import { errorText } from "../redact.ts";
import { advanceMarket, evictTail, insertRows, pruneTail, rewindMarket } from "./_journal_tail.ts";
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
  #db: DatabaseSync;
  #lease: Lease;
  #marketIds = new Map<string, number>();
  #s: Record<keyof typeof SQL, StatementSync>;
  #closed = false;

  private constructor(path: string, db: DatabaseSync, options: JournalOptions) {
    this.path = path;
    this.#db = db;
    this.options = options;
    this.#lease = new Lease(db);
    this.#s = prepareAll(db, SQL);
  }

  /**
   * Opens (creating if needed, upgrading an earlier version's outbox) `<dataDir>/outbox.sqlite`.
   * @throws when the directory or database cannot be created or opened, or the file was
   * written by a newer schema.
   */
  static open(dataDir: string, options: Partial<JournalOptions> = {}): Journal {
    const opts = { ...DEFAULT_JOURNAL_OPTIONS, ...options };
    const { db, path } = openStore(dataDir, opts, initSchema);
    return new Journal(path, db, opts);
  }

  /** The fsync policy in force on this connection, as SQLite reports it (`PRAGMA synchronous`). */
  synchronous(): "FULL" | "NORMAL" | "OTHER" {
    const v = Number(
      (this.#guard(() => this.#db.prepare("PRAGMA synchronous").get()) as { synchronous: number })
        .synchronous,
    );
    return v === 2 ? "FULL" : v === 1 ? "NORMAL" : "OTHER";
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
    const valid = trades.filter(isStorable);
    const invalid = trades.length - valid.length;
    if (valid.length === 0) return { outcome: appendOutcome(0, invalid, 0), stored: [], seqs: [] };
    let seqs: number[];
    try {
      seqs = this.#insertOrEvict(valid);
    } catch (e) {
      const reason = classifySqliteError(e);
      const cause = e instanceof JournalError ? e.cause : e;
      const message = `outbox append of ${valid.length} trades failed (${reason}): ${
        errorText(cause)
      }`;
      return {
        outcome: { ok: false, reason, appended: 0, dropped: trades.length, message },
        stored: [],
        seqs: [],
      };
    }
    const fit = seqs.length;
    return {
      outcome: appendOutcome(fit, invalid, valid.length - fit),
      stored: fit === valid.length ? valid : valid.slice(0, fit),
      seqs,
    };
  }

  #insertOrEvict(valid: Trade[]): number[] {
    try {
      return this.#insert(valid);
    } catch (e) {
      if (classifySqliteError(e) !== "disk_full") throw e;
      if (this.#write(() => evictTail(this.#s, Math.max(valid.length, 1_000))) === 0) throw e;
      return this.#insert(valid);
    }
  }

  #insert(valid: Trade[]): number[] {
    const { seqs, added } = this.#write(() => {
      const fit = Math.max(0, Math.min(valid.length, this.options.maxTrades - this.depth()));
      return insertRows(this.#s, this.#marketIds, valid.slice(0, fit));
    });
    // Market ids learnt in a transaction are cached only once it committed.
    for (const [name, id] of added) this.#marketIds.set(name, id);
    return seqs;
  }

  /** Up to `limit` pending rows with `seq > afterSeq`, oldest first. */
  peek(limit: number, afterSeq = 0): JournalRow[] {
    const rows = this.#guard(() =>
      this.#s.peek.all(Math.max(afterSeq, this.#minAcked()), Math.max(0, limit))
    ) as Row[];
    return rows.map((r) => ({ seq: r.seq, trade: toTrade(r) }));
  }

  /** The newest seq stored (pending or retained), 0 when empty. */
  maxSeq(): number {
    return Number((this.#guard(() => this.#s.maxSeq.get()) as { seq: number }).seq);
  }

  /**
   * Acknowledges every pending row with `seq <= upToSeq` (the caller has them all on the primary);
   * they join the retained tail. Returns how many left the pending set.
   */
  ack(upToSeq: number): number {
    return this.#write(() => {
      const min = this.#minAcked();
      // Never past the newest row: rows appended later must not be born acknowledged.
      upToSeq = Math.min(upToSeq, Number((this.#s.maxSeq.get() as { seq: number }).seq));
      if (upToSeq <= min) return 0;
      const n = Number((this.#s.pendingUpTo.get(min, upToSeq) as { n: number }).n);
      this.#s.ack.run(upToSeq);
      if (n) this.#s.addDepth.run(-n);
      return n;
    });
  }

  /** Moves pending rows to the dead letters atomically; returns how many (a row moves once). */
  deadLetter(rows: readonly JournalRow[], reason: string, now = Date.now()): number {
    return this.#write(() => {
      let n = 0;
      for (const { seq } of rows) n += Number(this.#s.dead.run(reason, now, seq).changes);
      if (n) this.#s.addDepth.run(-n);
      return n;
    });
  }

  /** Whether retention ever removed a row of `market` (its older trades are gone from disk). */
  hasPruned(market: string): boolean {
    const m = this.#marketRow(market);
    if (!m) return false;
    return Number((this.#guard(() => this.#s.pruned.get(m.id)) as { n: number }).n) > 0;
  }

  /**
   * Puts every dead letter back in the pending set for a replay, atomically; returns the seqs
   * now pending, or null (nothing moved) unless `holder` holds the replay lease.
   */
  retryDeadLetters(holder: string, now = Date.now()): number[] | null {
    return this.#write(() => {
      if (Number((this.#s.leaseHeld.get(holder, now) as { n: number }).n) === 0) return null;
      return reviveDead(this.#s);
    });
  }

  /** Rows in the dead-letter table. */
  deadLetterCount(): number {
    return Number((this.#guard(() => this.#s.deadCount.get()) as { n: number }).n);
  }

  /** Up to `limit` dead-lettered rows, oldest first. */
  deadLetters(limit: number): DeadLetterRow[] {
    const rows = this.#guard(() =>
      this.#s.deadList.all(limit)
    ) as (Row & { reason: string; at: number })[];
    return rows.map((r) => ({ seq: r.seq, trade: toTrade(r), reason: r.reason, at: r.at }));
  }

  /** Pending trades: the outbox's depth (a counter kept with the rows: O(1)). */
  depth(): number {
    return Number((this.#guard(() => this.#s.depth.get()) as { value: number }).value);
  }

  /** True when `maxTrades` or more trades are pending. */
  isFull(): boolean {
    return this.depth() >= this.options.maxTrades;
  }

  /** Bytes on disk: the database file plus its WAL. */
  bytes(): number {
    let total = 0;
    for (const suffix of ["", "-wal"]) {
      try {
        total += Deno.statSync(this.path + suffix).size;
      } catch { /* no WAL right now */ }
    }
    return total;
  }

  /** Per market: pending count and the oldest/newest pending trade. O(depth). */
  summary(): MarketSummary[] {
    return this.#guard(() => {
      const groups = this.#s.groups.all(this.#minAcked()) as unknown as GroupRow[];
      const idAt = (seq: number) => String((this.#s.entryIdAt.get(seq) as { id: string }).id);
      return groups.map((g) => ({
        market: g.market,
        count: g.count,
        firstSeq: g.first_seq,
        lastSeq: g.last_seq,
        firstId: idAt(g.first_seq),
        lastId: idAt(g.last_seq),
      }));
    });
  }

  /**
   * The newest trade ever appended for `market` (in append order), kept whatever was acknowledged
   * or pruned; null when none was. Seeds the feed's gap and duplicate checks at start-up.
   */
  lastTrade(market: string): LastAppended | null {
    return toLastAppended(this.#guard(() => this.#s.lastOf.get(market)) as LastRow | undefined);
  }

  /** The newest acknowledged (not dead-lettered) row of `market`, null when none is retained. */
  lastAcked(market: string): JournalPoint | null {
    return this.#guard(() => {
      const m = this.#marketRow(market);
      return m ? toPoint(this.#s.lastAcked.get(m.id, m.acked_seq) as PointRow | undefined) : null;
    });
  }

  /** The oldest row of `market` still in the journal (pending or retained), null when none. */
  oldestRetained(market: string): JournalPoint | null {
    return this.#guard(() => {
      const m = this.#marketRow(market);
      return m ? toPoint(this.#s.oldest.get(m.id) as PointRow | undefined) : null;
    });
  }

  /**
   * Makes the retained rows of `market` whose entry ID is larger than `entryId` pending again, so
   * a replay re-applies them in order; returns how many. Rows of a market are in entry-ID order.
   * Callers must not be acknowledging direct primary writes meanwhile (the core leaves `primary`
   * mode first), since {@link ack} declares every pending row up to a seq written.
   */
  rewindAfter(market: string, entryId: string): number {
    return this.#write(() => {
      const m = this.#marketRow(market);
      return m ? rewindMarket(this.#s, m, entryId) : 0;
    });
  }

  /**
   * Acknowledges the pending rows of `market` with an entry ID at or below `entryId` (the primary
   * has them from another feeder: group mode); returns how many left the pending set.
   */
  ackThrough(market: string, entryId: string): number {
    return this.#write(() => {
      const m = this.#marketRow(market);
      return m ? advanceMarket(this.#s, m, entryId) : 0;
    });
  }

  /**
   * Deletes up to `pruneChunk` retained rows per market that are older than `retainMs` (by
   * receive time) or beyond `retainTrades` rows of their market, in one short transaction.
   * Returns how many went; call again while it returns more than 0.
   */
  prune(now = Date.now()): number {
    return this.#write(() => pruneTail(this.#s, this.options, now));
  }

  /** Takes the replay lease; see lease.ts for when a held lease may be taken over. */
  acquireLease(holder: string, ttlMs: number, now = Date.now()): boolean {
    return this.#guard(() => this.#lease.acquire(holder, ttlMs, now));
  }

  /** Extends the lease; false means it was lost and the replayer must stop (fencing). */
  renewLease(holder: string, ttlMs: number, now = Date.now()): boolean {
    return this.#guard(() => this.#lease.renew(holder, ttlMs, now));
  }

  /** Releases the lease if `holder` holds it. */
  releaseLease(holder: string): void {
    this.#guard(() => this.#lease.release(holder));
  }

  /** The holder of an unexpired lease, or null. */
  leaseHolder(now = Date.now()): string | null {
    const info = this.leaseInfo();
    return info && info.expiresAt > now ? info.holder : null;
  }

  /** The lease row (holder and expiry), expired or not. */
  leaseInfo(): LeaseInfo | null {
    return this.#guard(() => this.#lease.info());
  }

  /** Closes the database (checkpointing the WAL when this is the last connection). Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#db.close();
  }

  #minAcked(): number {
    return Number((this.#s.minAcked.get() as { seq: number }).seq);
  }

  #marketRow(market: string): MarketRow | undefined {
    return this.#s.marketRow.get(market) as MarketRow | undefined;
  }

  #write<T>(fn: () => T): T {
    return this.#guard(() => immediate(this.#db, fn));
  }

  #guard<T>(fn: () => T): T {
    try {
      return fn();
    } catch (e) {
      if (e instanceof JournalError) throw e;
      const reason = classifySqliteError(e);
      throw new JournalError(reason, `outbox ${reason}: ${errorText(e)}`, e);
    }
  }
}
