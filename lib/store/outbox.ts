/**
 * The durable outbox: trades that could not be confirmed on the primary, kept on local disk in
 * arrival order until a replay has applied them there.
 *
 * Storage: SQLite (`node:sqlite`) at `<dataDir>/outbox.sqlite`, WAL mode, `synchronous=FULL`,
 * `busy_timeout` so `stream`, `btcfeed sync` and `health` can share it from separate processes.
 * Every write is one `BEGIN IMMEDIATE` transaction; a write waits at most `busyTimeoutMs` for
 * another process's (short) write transaction, then fails as `busy`. About 70 bytes a trade on
 * disk: the default limit of 10 million trades is about 0.7 GB.
 *
 * Guarantees and loss window:
 * - **Acknowledged means durable.** When {@link Outbox.append} returns, the appended trades are
 *   committed and the WAL has been fsynced (`synchronous=FULL`). A `kill -9` at any moment loses
 *   nothing that was acknowledged, and a power loss loses nothing either, provided the storage
 *   honours fsync (a disk or VM that acknowledges flushes it has not made can lose the last
 *   commits; no software above it can close that hole). A batch is atomic: after a crash it is
 *   entirely present or entirely absent, never torn. `synchronous=NORMAL` is only 5-10% faster
 *   in batches of 1000 (bench/outbox_bench.ts) but a power loss could then roll back
 *   acknowledged batches, so FULL is the default.
 * - **Order.** `seq` is `AUTOINCREMENT`: strictly increasing in append order across processes and
 *   never reused, even after the outbox was drained, so "remove up to seq" can never delete a
 *   row appended after the peek that produced seq.
 * - **At the limit** (`maxTrades`), the newest trades are refused: as many of the batch as fit are
 *   stored and the rest (the batch's tail) are reported as dropped in the outcome. What was
 *   acknowledged is never deleted to make room (unlike a drop-oldest ring): rows that are being
 *   replayed stay valid, and the caller learns exactly how many trades were not kept so it can
 *   count, log and report them; the outbox itself never drops anything silently.
 * - **Disk full / I/O errors.** A full disk (ENOSPC, or the optional `maxPages` cap) is SQLite's
 *   SQLITE_FULL. SQLite rolls the batch back; earlier rows stay intact; `append`
 *   returns `{ ok: false, reason: "disk_full" | "io_error" | "busy" }` with the batch counted as
 *   dropped, and never throws. Other methods throw {@link OutboxError} (a failed `remove` only
 *   means a later replay re-sends rows the primary treats as duplicates).
 * - **Dead letters.** Rows the primary rejected (out-of-order, or refused for their content: a
 *   key of the wrong type, a value the script refuses) move to `dead_letter` in the same
 *   transaction that removes them: a row is in exactly one of the two tables. Trades the primary
 *   refused on the live path are stored there directly. {@link Outbox.retryDeadLetters} moves
 *   them all back under their own seqs (so they replay where they stood, ahead of newer rows),
 *   only for the replay lease holder, since rows appearing below a replayer's position would
 *   otherwise be removed unreplayed.
 * - Rows are not checksummed: SQLite detects structural corruption (reported as `io_error`), not
 *   flipped bits in a value.
 * - `depth()` is a counter kept in the same transactions as the rows (O(1), exact). The file does
 *   not shrink when rows are removed; later appends reuse the freed pages.
 */

import type { DatabaseSync, StatementSync } from "node:sqlite";
import type { Trade } from "../trade.ts";
import { Lease, type LeaseInfo } from "./lease.ts";
import { immediate, openStore, prepareAll } from "./_sqlite.ts";
import {
  type AppendOutcome,
  appendOutcome,
  type DeadLetterRow,
  type LastAppended,
  type MarketSummary,
  type OutboxRow,
} from "./outbox_types.ts";
import {
  classifySqliteError,
  type GroupRow,
  initSchema,
  isStorable,
  type LastRow,
  OutboxError,
  type Row,
  SQL,
  toLastAppended,
  toTrade,
  tradeParams,
} from "./_outbox_sql.ts";
import { errorText } from "../redact.ts";
import { DEFAULT_OUTBOX_OPTIONS, type OutboxOptions } from "../defaults.ts";

export { classifySqliteError, OutboxError };
export type * from "./outbox_types.ts";
export { STORE_FILE } from "./_sqlite.ts";

export { DEFAULT_OUTBOX_OPTIONS, type OutboxOptions };

/** The durable, ordered, size-limited trade outbox; see the module comment for its guarantees. */
export class Outbox {
  /** `<dataDir>/outbox.sqlite`. */
  readonly path: string;
  readonly options: Readonly<OutboxOptions>;
  #db: DatabaseSync;
  #lease: Lease;
  #marketIds = new Map<string, number>();
  #s: Record<keyof typeof SQL, StatementSync>;
  #closed = false;

  private constructor(path: string, db: DatabaseSync, options: OutboxOptions) {
    this.path = path;
    this.#db = db;
    this.options = options;
    this.#lease = new Lease(db);
    this.#s = prepareAll(db, SQL);
  }

  /**
   * Opens (creating if needed) `<dataDir>/outbox.sqlite`, creating `dataDir` too.
   * @throws when the directory or database cannot be created or opened, or the file was
   * written by a newer schema.
   */
  static open(dataDir: string, options: Partial<OutboxOptions> = {}): Outbox {
    const opts = { ...DEFAULT_OUTBOX_OPTIONS, ...options };
    const { db, path } = openStore(dataDir, opts, initSchema);
    return new Outbox(path, db, opts);
  }

  /** The limit in trades. */
  get maxTrades(): number {
    return this.options.maxTrades;
  }

  /** Stores `trades` in order in one transaction; never throws. See {@link AppendOutcome}. */
  append(trades: readonly Trade[]): AppendOutcome {
    const valid = trades.filter(isStorable);
    const invalid = trades.length - valid.length;
    if (valid.length === 0) return appendOutcome(0, invalid, 0);
    const added = new Map<string, number>();
    let fit = 0;
    try {
      this.#write(() => {
        fit = Math.max(0, Math.min(valid.length, this.options.maxTrades - this.depth()));
        const last = new Map<number, Trade>();
        for (let i = 0; i < fit; i++) {
          const t = valid[i];
          const marketId = this.#marketIds.get(t.market) ?? added.get(t.market) ??
            this.#marketId(t.market, added);
          this.#s.insert.run(marketId, ...tradeParams(t));
          last.set(marketId, t);
        }
        for (const [marketId, t] of last) this.#s.setLast.run(t.tradeId, t.ts, t.id, marketId);
        if (fit > 0) this.#s.addDepth.run(fit);
      });
    } catch (e) {
      const reason = classifySqliteError(e);
      const cause = e instanceof OutboxError ? e.cause : e;
      const message = `outbox append of ${valid.length} trades failed (${reason}): ${
        errorText(cause)
      }`;
      return { ok: false, reason, appended: 0, dropped: trades.length, message };
    }
    for (const [name, id] of added) this.#marketIds.set(name, id);
    return appendOutcome(fit, invalid, valid.length - fit);
  }

  /** Up to `limit` rows with `seq > afterSeq`, oldest first. */
  peek(limit: number, afterSeq = 0): OutboxRow[] {
    const rows = this.#guard(() => this.#s.peek.all(afterSeq, Math.max(0, limit))) as Row[];
    return rows.map((r) => ({ seq: r.seq, trade: toTrade(r) }));
  }

  /** The newest seq stored, 0 when empty. */
  maxSeq(): number {
    return Number((this.#guard(() => this.#s.maxSeq.get()) as { seq: number }).seq);
  }

  /** Removes (acknowledges) every row with `seq <= upToSeq`; returns how many went. */
  remove(upToSeq: number): number {
    return this.#write(() => this.#removed(Number(this.#s.remove.run(upToSeq).changes)));
  }

  /** Removes exactly these rows (those still present); returns how many went. */
  removeSeqs(seqs: readonly number[]): number {
    return this.#write(() => {
      let n = 0;
      for (const seq of seqs) n += Number(this.#s.removeOne.run(seq).changes);
      return this.#removed(n);
    });
  }

  /** Moves rows (those still present) to the dead-letter table atomically; returns how many. */
  deadLetter(rows: readonly OutboxRow[], reason: string, now = Date.now()): number {
    return this.#write(() => {
      let n = 0;
      for (const { seq } of rows) {
        if (Number(this.#s.dead.run(reason, now, seq).changes) === 0) continue;
        this.#s.removeOne.run(seq);
        n++;
      }
      return this.#removed(n);
    });
  }

  /**
   * Stores trades the primary refused for their content straight in the dead-letter table, in
   * one transaction (they take a seq like an append but never count in the depth); returns how
   * many. @throws OutboxError when the store fails (nothing is stored then).
   */
  deadLetterTrades(trades: readonly Trade[], reason: string, now = Date.now()): number {
    const valid = trades.filter(isStorable);
    const added = new Map<string, number>();
    this.#write(() => {
      for (const t of valid) {
        const marketId = this.#marketIds.get(t.market) ?? added.get(t.market) ??
          this.#marketId(t.market, added);
        const seq = this.#s.insert.run(marketId, ...tradeParams(t)).lastInsertRowid;
        this.#s.dead.run(reason, now, seq);
        this.#s.removeOne.run(seq);
      }
    });
    for (const [name, id] of added) this.#marketIds.set(name, id);
    return valid.length;
  }

  /**
   * Moves every dead letter back into the outbox for a replay, atomically; returns their seqs,
   * or null (nothing moved) unless `holder` holds the replay lease.
   */
  retryDeadLetters(holder: string, now = Date.now()): number[] | null {
    return this.#write(() => {
      if (Number((this.#s.leaseHeld.get(holder, now) as { n: number }).n) === 0) return null;
      const seqs = (this.#s.undead.all() as { seq: number }[]).map((r) => Number(r.seq));
      this.#s.deadClear.run();
      if (seqs.length) this.#s.addDepth.run(seqs.length);
      return seqs;
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

  /** Trades waiting in the outbox (a counter kept with the rows: O(1)). */
  depth(): number {
    return Number((this.#guard(() => this.#s.depth.get()) as { value: number }).value);
  }

  /** True when the outbox holds `maxTrades` or more. */
  isFull(): boolean {
    return this.depth() >= this.options.maxTrades;
  }

  /** Bytes on disk: the database file plus its WAL (the file does not shrink after removes). */
  bytes(): number {
    let total = 0;
    for (const suffix of ["", "-wal"]) {
      try {
        total += Deno.statSync(this.path + suffix).size;
      } catch { /* no WAL right now */ }
    }
    return total;
  }

  /** Per market: count and the oldest/newest stored trade. Reads every row: O(depth). */
  summary(): MarketSummary[] {
    return this.#guard(() => {
      const groups = this.#s.groups.all() as unknown as GroupRow[];
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
   * The newest trade ever appended for `market` (in append order), kept even after its row was
   * replayed and removed; null when none was. Seeds the feed's duplicate check at start-up.
   */
  lastTrade(market: string): LastAppended | null {
    return toLastAppended(this.#guard(() => this.#s.lastOf.get(market)) as LastRow | undefined);
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

  #removed(n: number): number {
    if (n) this.#s.addDepth.run(-n);
    return n;
  }

  #marketId(name: string, added: Map<string, number>): number {
    const row = this.#s.market.get(name) as { id: number } | undefined;
    const id = row?.id ?? (this.#s.addMarket.get(name) as { id: number }).id;
    added.set(name, id);
    return id;
  }

  #write<T>(fn: () => T): T {
    return this.#guard(() => immediate(this.#db, fn));
  }

  #guard<T>(fn: () => T): T {
    try {
      return fn();
    } catch (e) {
      if (e instanceof OutboxError) throw e;
      const reason = classifySqliteError(e);
      throw new OutboxError(reason, `outbox ${reason}: ${errorText(e)}`, e);
    }
  }
}
