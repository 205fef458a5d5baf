/**
 * Durable storage for source-gap records waiting to be written to the primary Redis.
 *
 * The records live in the outbox's SQLite file (`<dataDir>/outbox.sqlite`, table `gaps`), opened
 * with the same settings as the outbox (WAL, `synchronous=FULL`, `busy_timeout`), so one file
 * holds everything not yet acknowledged by the primary and one backup covers both.
 *
 * Guarantees:
 * - **Acknowledged means durable.** When {@link GapStore.append} returns, the record is committed
 *   and fsynced: a `kill -9` or power loss (on a disk that honours fsync) does not lose it.
 * - **Stable, increasing entry IDs.** Each record gets its Redis stream entry ID when it is stored:
 *   `<detectedAtMs>-<seq>`, where `seq` is `AUTOINCREMENT` (never reused) and `detectedAtMs` never
 *   goes below the previous record's (kept in the `gap_clock` row even after rows are removed), so
 *   IDs strictly increase in storage order, across restarts too, whatever the wall clock does.
 *   Re-sending a record therefore re-sends the same ID, which Redis refuses as "equal or smaller".
 * - Rows leave only through {@link GapStore.remove}, which the recorder calls after the primary
 *   acknowledged them.
 */

import type { DatabaseSync, StatementSync } from "node:sqlite";
import { DEFAULT_JOURNAL_OPTIONS } from "../defaults.ts";
import type { GapRecord } from "../domain.ts";
import { immediate, openStore, prepareAll } from "./_sqlite.ts";

/** A stored gap record and its Redis entry ID. */
export interface StoredGap {
  seq: number;
  /** `<detectedAtMs>-<seq>`. */
  entryId: string;
  gap: GapRecord;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS gaps (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  market TEXT NOT NULL,
  detected_at INTEGER NOT NULL,
  reason TEXT NOT NULL CHECK (reason IN ('id_gap', 'disconnect', 'primary_reset')),
  after_trade_id TEXT NOT NULL,
  before_trade_id TEXT NOT NULL,
  from_ts INTEGER NOT NULL,
  to_ts INTEGER NOT NULL,
  recovered INTEGER NOT NULL,
  missing INTEGER
) STRICT;
CREATE TABLE IF NOT EXISTS gap_clock (id INTEGER PRIMARY KEY CHECK (id = 1), ms INTEGER NOT NULL)
  STRICT;
INSERT OR IGNORE INTO gap_clock (id, ms) VALUES (1, 0);
`;

const SQL = {
  clock: "SELECT ms FROM gap_clock WHERE id = 1",
  setClock: "UPDATE gap_clock SET ms = ? WHERE id = 1",
  insert: "INSERT INTO gaps (market, detected_at, reason, after_trade_id, before_trade_id, " +
    "from_ts, to_ts, recovered, missing) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING seq",
  peek: "SELECT * FROM gaps ORDER BY seq LIMIT ?",
  remove: "DELETE FROM gaps WHERE seq = ?",
  count: "SELECT count(*) AS n FROM gaps",
} as const;

/** A `gaps` row as SQLite returns it. */
export interface GapRow {
  seq: number;
  market: string;
  detected_at: number;
  reason: GapRecord["reason"];
  after_trade_id: string;
  before_trade_id: string;
  from_ts: number;
  to_ts: number;
  recovered: number;
  missing: number | null;
}

/** Gap records not yet acknowledged by the primary, durable and in detection order. */
export class GapStore {
  readonly path: string;
  #db: DatabaseSync;
  #s: Record<keyof typeof SQL, StatementSync>;
  #closed = false;

  private constructor(path: string, db: DatabaseSync) {
    this.path = path;
    this.#db = db;
    this.#s = prepareAll(db, SQL);
  }

  /**
   * Opens (creating if needed) the `gaps` table in `<dataDir>/outbox.sqlite`.
   * @throws when the database cannot be opened or created
   */
  static open(dataDir: string, options: { busyTimeoutMs?: number } = {}): GapStore {
    const busyTimeoutMs = options.busyTimeoutMs ?? DEFAULT_JOURNAL_OPTIONS.busyTimeoutMs;
    const { db, path } = openStore(dataDir, { busyTimeoutMs }, (db) => {
      widenReasons(db);
      db.exec(SCHEMA);
    });
    return new GapStore(path, db);
  }

  /**
   * Stores `gap`, detected at `now`, durably; returns it with its entry ID.
   * @throws when SQLite cannot commit (disk full, I/O error, lock timeout)
   */
  append(gap: GapRecord, now = Date.now()): StoredGap {
    return immediate(this.#db, () => {
      const last = Number((this.#s.clock.get() as { ms: number }).ms);
      const detectedAt = Math.max(Math.floor(now), last);
      this.#s.setClock.run(detectedAt);
      const { seq } = this.#s.insert.get(
        gap.market,
        detectedAt,
        gap.reason,
        gap.afterTradeId,
        gap.beforeTradeId,
        wholeMs(gap.fromTs),
        wholeMs(gap.toTs),
        Math.max(0, Math.floor(gap.recovered)),
        gap.missing === null ? null : Math.max(0, Math.floor(gap.missing)),
      ) as { seq: number };
      return { seq: Number(seq), entryId: `${detectedAt}-${seq}`, gap: { ...gap } };
    });
  }

  /** Up to `limit` stored records, oldest first. */
  peek(limit: number): StoredGap[] {
    const rows = this.#s.peek.all(Math.max(0, Math.floor(limit))) as unknown as GapRow[];
    return rows.map((r) => ({
      seq: Number(r.seq),
      entryId: `${r.detected_at}-${r.seq}`,
      gap: toGapRecord(r),
    }));
  }

  /** Removes the record `seq` (acknowledged by the primary); true when it was there. */
  remove(seq: number): boolean {
    return Number(this.#s.remove.run(seq).changes) > 0;
  }

  /** Records waiting. */
  depth(): number {
    return Number((this.#s.count.get() as { n: number }).n);
  }

  /** Closes the connection. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#db.close();
  }
}

function wholeMs(ms: number): number {
  return Number.isFinite(ms) ? Math.max(0, Math.floor(ms)) : 0;
}

/**
 * Stores written before `primary_reset` existed have a narrower CHECK on `reason`, which SQLite
 * cannot alter: the table is rebuilt once with the rows kept (same seq, same order).
 */
function widenReasons(db: DatabaseSync): void {
  const table = db.prepare("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'gaps'")
    .get() as { sql: string } | undefined;
  if (!table || table.sql.includes("primary_reset")) return;
  // Runs inside openStore's init transaction: the rebuild is all or nothing.
  db.exec("ALTER TABLE gaps RENAME TO gaps_before_primary_reset");
  db.exec(SCHEMA);
  db.exec("INSERT INTO gaps SELECT * FROM gaps_before_primary_reset");
  db.exec("DROP TABLE gaps_before_primary_reset");
}

/** The gap record a `gaps` row holds. */
export function toGapRecord(r: Omit<GapRow, "seq">): GapRecord {
  return {
    market: r.market,
    reason: r.reason,
    afterTradeId: r.after_trade_id,
    beforeTradeId: r.before_trade_id,
    fromTs: Number(r.from_ts),
    toTs: Number(r.to_ts),
    recovered: Number(r.recovered),
    missing: r.missing === null ? null : Number(r.missing),
  };
}
