/**
 * Gap recovery's durable state in the data directory's SQLite file (`<dataDir>/outbox.sqlite`,
 * tables `held_trades` and `pending_gaps`), opened with the same settings as the journal (WAL,
 * `busy_timeout`, the journal's `synchronous`), so one file and one backup cover everything.
 *
 * - `held_trades` (market, seq, trade payload): live trades that arrived while a backfill ran
 *   ahead of them; they are not yet sequenced (no entry ID), so they are kept as received and
 *   read back in `seq` order (AUTOINCREMENT: never reused, increasing in append order).
 * - `pending_gaps`: at most one row per market, the gap being backfilled: its bounds, reason,
 *   progress (`resume_after`), trades recovered so far and when it started. A row leaves only
 *   when the gap is finished (closed, or the exchange no longer has its trades).
 *
 * Guarantees: every write is one `BEGIN IMMEDIATE` transaction, durable when it returns (with
 * `synchronous=FULL`; `NORMAL` keeps the journal's power-loss window). It implements the
 * feed's `RecoveryStore` (lib/feed/recovery_store.ts) structurally; lib/app wires it.
 */

import type { DatabaseSync, StatementSync } from "node:sqlite";
import { DEFAULT_JOURNAL_OPTIONS } from "../defaults.ts";
import type { RawTrade } from "../trade.ts";
import { immediate, openStore, prepareAll } from "./_sqlite.ts";

const SCHEMA = `
CREATE TABLE IF NOT EXISTS held_trades (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  market TEXT NOT NULL,
  fresh INTEGER NOT NULL,
  trade TEXT NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS held_trades_market ON held_trades (market, seq);
CREATE TABLE IF NOT EXISTS pending_gaps (
  market TEXT PRIMARY KEY,
  reason TEXT NOT NULL CHECK (reason IN ('id_gap', 'disconnect')),
  after_trade_id TEXT NOT NULL,
  after_ts INTEGER NOT NULL,
  before_trade_id TEXT,
  before_ts INTEGER,
  resume_trade_id TEXT NOT NULL,
  resume_ts INTEGER NOT NULL,
  recovered INTEGER NOT NULL,
  started_at INTEGER NOT NULL
) STRICT;
`;

const SQL = {
  hold: "INSERT INTO held_trades (market, fresh, trade) VALUES (?, ?, ?)",
  held: "SELECT seq, fresh, trade FROM held_trades WHERE market = ? AND seq > ? ORDER BY seq " +
    "LIMIT ?",
  release: "DELETE FROM held_trades WHERE market = ? AND seq <= ?",
  heldCount: "SELECT count(*) AS n FROM held_trades WHERE market = ?",
  heldTotal: "SELECT count(*) AS n FROM held_trades",
  pending: "SELECT * FROM pending_gaps WHERE market = ?",
  allPending: "SELECT * FROM pending_gaps ORDER BY market",
  save: "INSERT OR REPLACE INTO pending_gaps (market, reason, after_trade_id, after_ts, " +
    "before_trade_id, before_ts, resume_trade_id, resume_ts, recovered, started_at) " +
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
  clear: "DELETE FROM pending_gaps WHERE market = ?",
} as const;

/** A gap being backfilled, as stored (the feed's `PendingGap`). */
export interface StoredPendingGap {
  market: string;
  reason: "id_gap" | "disconnect";
  afterTradeId: string;
  afterTs: number;
  beforeTradeId: string | null;
  beforeTs: number | null;
  resumeAfter: { tradeId: string; ts: number };
  recovered: number;
  startedAt: number;
}

/** A `pending_gaps` row as SQLite returns it. */
export interface PendingRow {
  market: string;
  reason: "id_gap" | "disconnect";
  after_trade_id: string;
  after_ts: number;
  before_trade_id: string | null;
  before_ts: number | null;
  resume_trade_id: string;
  resume_ts: number;
  recovered: number;
  started_at: number;
}

/** Held trades and pending gaps of one data directory. */
export class RecoveryStore {
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
   * Opens (creating if needed) the tables in `<dataDir>/outbox.sqlite`.
   * @throws when the database cannot be opened or created
   */
  static open(
    dataDir: string,
    options: { busyTimeoutMs?: number; synchronous?: "FULL" | "NORMAL" } = {},
  ): RecoveryStore {
    const busyTimeoutMs = options.busyTimeoutMs ?? DEFAULT_JOURNAL_OPTIONS.busyTimeoutMs;
    const { db, path } = openStore(
      dataDir,
      { busyTimeoutMs, synchronous: options.synchronous },
      (db) => db.exec(SCHEMA),
    );
    return new RecoveryStore(path, db);
  }

  /** Appends `trades` of `market`, in order, in one transaction. */
  hold(market: string, trades: { trade: RawTrade; fresh: boolean }[]): void {
    if (!trades.length) return;
    immediate(this.#db, () => {
      for (const t of trades) this.#s.hold.run(market, t.fresh ? 1 : 0, JSON.stringify(t.trade));
    });
  }

  /** Up to `limit` held trades of `market` after `afterSeq`, oldest first. */
  held(
    market: string,
    limit: number,
    afterSeq = 0,
  ): { seq: number; trade: RawTrade; fresh: boolean }[] {
    const rows = this.#s.held.all(market, afterSeq, Math.max(0, Math.floor(limit))) as {
      seq: number;
      fresh: number;
      trade: string;
    }[];
    return rows.map((r) => ({
      seq: Number(r.seq),
      fresh: r.fresh === 1,
      trade: JSON.parse(r.trade) as RawTrade,
    }));
  }

  /** Removes the held trades of `market` up to and including `upToSeq`. */
  release(market: string, upToSeq: number): void {
    immediate(this.#db, () => this.#s.release.run(market, upToSeq));
  }

  heldCount(market: string): number {
    return Number((this.#s.heldCount.get(market) as { n: number }).n);
  }

  /** Held trades of every market. */
  heldTotal(): number {
    return Number((this.#s.heldTotal.get() as { n: number }).n);
  }

  pending(market: string): StoredPendingGap | null {
    const row = this.#s.pending.get(market) as PendingRow | undefined;
    return row ? toPending(row) : null;
  }

  /** Every pending gap, by market. */
  allPending(): StoredPendingGap[] {
    return (this.#s.allPending.all() as unknown as PendingRow[]).map(toPending);
  }

  savePending(g: StoredPendingGap): void {
    immediate(this.#db, () =>
      this.#s.save.run(
        g.market,
        g.reason,
        g.afterTradeId,
        wholeMs(g.afterTs),
        g.beforeTradeId,
        g.beforeTs === null ? null : wholeMs(g.beforeTs),
        g.resumeAfter.tradeId,
        wholeMs(g.resumeAfter.ts),
        Math.max(0, Math.floor(g.recovered)),
        wholeMs(g.startedAt),
      ));
  }

  clearPending(market: string): void {
    immediate(this.#db, () => this.#s.clear.run(market));
  }

  /** Closes the connection. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#db.close();
  }
}

/** The gap a `pending_gaps` row describes. */
export function toPending(r: PendingRow): StoredPendingGap {
  return {
    market: r.market,
    reason: r.reason,
    afterTradeId: r.after_trade_id,
    afterTs: Number(r.after_ts),
    beforeTradeId: r.before_trade_id,
    beforeTs: r.before_ts === null ? null : Number(r.before_ts),
    resumeAfter: { tradeId: r.resume_trade_id, ts: Number(r.resume_ts) },
    recovered: Number(r.recovered),
    startedAt: Number(r.started_at),
  };
}

function wholeMs(ms: number): number {
  return Number.isFinite(ms) ? Math.max(0, Math.floor(ms)) : 0;
}
