/**
 * The outbox's on-disk schema and row mapping (private to lib/store; see outbox.ts).
 *
 * Layout choices (measured in bench/outbox_bench.ts and while designing): typed columns rather
 * than a JSON payload (~62 vs ~200 bytes a row, and faster); markets interned in `markets`; the
 * entry ID stored only when it is not the usual `<ts>-<tradeId>` (NULL otherwise). Tables are
 * STRICT, and `side` is checked, so a malformed value cannot be stored.
 */

import type { DatabaseSync } from "node:sqlite";
import { entryIdFor, type Trade, tradeProblem } from "../trade.ts";
import { LEASE_SCHEMA } from "./lease.ts";
import type { LastAppended } from "./outbox_types.ts";

/** Bumped on any incompatible schema change; a newer file is refused rather than misread. */
export const SCHEMA_VERSION = 1;

export const SCHEMA = `
CREATE TABLE IF NOT EXISTS markets (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  last_trade_id TEXT,
  last_ts INTEGER,
  last_id TEXT
) STRICT;
CREATE TABLE IF NOT EXISTS outbox (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  market_id INTEGER NOT NULL,
  trade_id TEXT NOT NULL,
  price TEXT NOT NULL,
  size TEXT NOT NULL,
  side INTEGER NOT NULL CHECK (side IN (0, 1)),
  ts INTEGER NOT NULL,
  received_at INTEGER NOT NULL,
  id TEXT
) STRICT;
CREATE TABLE IF NOT EXISTS dead_letter (
  seq INTEGER PRIMARY KEY, market TEXT NOT NULL, trade_id TEXT NOT NULL, price TEXT NOT NULL,
  size TEXT NOT NULL, side INTEGER NOT NULL, ts INTEGER NOT NULL, received_at INTEGER NOT NULL,
  id TEXT, reason TEXT NOT NULL, at INTEGER NOT NULL
) STRICT;
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL) STRICT;
INSERT OR IGNORE INTO meta (key, value) VALUES ('depth', (SELECT count(*) FROM outbox));
${LEASE_SCHEMA};
`;

const COLS = "o.seq, m.name AS market, o.trade_id, o.price, o.size, o.side, o.ts, " +
  "o.received_at, o.id";
const FROM = "FROM outbox o JOIN markets m ON m.id = o.market_id";
const ENTRY_ID = "coalesce(o.id, o.ts || '-' || o.trade_id)";

/** Every statement the outbox prepares, by name. */
export const SQL = {
  depth: "SELECT value FROM meta WHERE key = 'depth'",
  addDepth: "UPDATE meta SET value = value + ? WHERE key = 'depth'",
  market: "SELECT id FROM markets WHERE name = ?",
  addMarket: "INSERT INTO markets (name) VALUES (?) RETURNING id",
  setLast: "UPDATE markets SET last_trade_id = ?, last_ts = ?, last_id = ? WHERE id = ?",
  lastOf: "SELECT name, last_trade_id, last_ts, last_id FROM markets WHERE name = ?",
  insert: "INSERT INTO outbox (market_id, trade_id, price, size, side, ts, received_at, id) " +
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
  peek: `SELECT ${COLS} ${FROM} WHERE o.seq > ? ORDER BY o.seq LIMIT ?`,
  maxSeq: "SELECT coalesce(max(seq), 0) AS seq FROM outbox",
  remove: "DELETE FROM outbox WHERE seq <= ?",
  removeOne: "DELETE FROM outbox WHERE seq = ?",
  dead: `INSERT INTO dead_letter SELECT ${COLS.replace(" AS market", "")}, ?, ? ${FROM} ` +
    "WHERE o.seq = ?",
  deadCount: "SELECT count(*) AS n FROM dead_letter",
  deadList: "SELECT * FROM dead_letter ORDER BY seq LIMIT ?",
  // A dead letter goes back under its own seq, so it replays where it stood, before newer rows.
  undead: "INSERT INTO outbox (seq, market_id, trade_id, price, size, side, ts, received_at, id) " +
    "SELECT d.seq, m.id, d.trade_id, d.price, d.size, d.side, d.ts, d.received_at, d.id " +
    "FROM dead_letter d JOIN markets m ON m.name = d.market ORDER BY d.seq RETURNING seq",
  deadClear: "DELETE FROM dead_letter",
  leaseHeld: "SELECT count(*) AS n FROM lease WHERE holder = ? AND expires_at > ?",
  groups: "SELECT m.name AS market, count(*) AS count, min(o.seq) AS first_seq, " +
    `max(o.seq) AS last_seq ${FROM} GROUP BY o.market_id ORDER BY m.name`,
  entryIdAt: `SELECT ${ENTRY_ID} AS id FROM outbox o WHERE o.seq = ?`,
} as const;

/** A row as `peek` and `deadList` read it. */
export type Row = {
  seq: number;
  market: string;
  trade_id: string;
  price: string;
  size: string;
  side: number;
  ts: number;
  received_at: number;
  id: string | null;
};

/** The trade a row holds. */
export function toTrade(r: Row): Trade {
  return {
    market: r.market,
    tradeId: r.trade_id,
    price: r.price,
    size: r.size,
    side: r.side === 1 ? "buy" : "sell",
    ts: r.ts,
    receivedAt: r.received_at,
    id: r.id ?? entryIdFor(r.ts, r.trade_id),
  };
}

/** Insert parameters after `market_id`, in {@link SQL.insert} order. */
export function tradeParams(
  t: Trade,
): [string, string, string, number, number, number, string | null] {
  const id = t.id === entryIdFor(t.ts, t.tradeId) ? null : t.id;
  return [t.tradeId, t.price, t.size, t.side === "buy" ? 1 : 0, t.ts, t.receivedAt, id];
}

/** True when `t` follows the trade rules (`tradeProblem` in lib/trade.ts), as the writer needs. */
export function isStorable(t: Trade): boolean {
  return tradeProblem(t) === null;
}

/** A storage failure outside `append`; `reason` as {@link classifySqliteError} decides. */
export class OutboxError extends Error {
  override name = "OutboxError";
  reason: "disk_full" | "io_error" | "busy";
  constructor(reason: "disk_full" | "io_error" | "busy", message: string, cause: unknown) {
    super(message, { cause });
    this.reason = reason;
  }
}

/** The one place that classifies SQLite failures: FULL → disk_full, BUSY/LOCKED → busy, else io_error. */
export function classifySqliteError(e: unknown): "disk_full" | "io_error" | "busy" {
  if (e instanceof OutboxError) return e.reason;
  const code = (e as { errcode?: unknown })?.errcode;
  const primary = typeof code === "number" ? code & 0xff : -1;
  return primary === 13 ? "disk_full" : primary === 5 || primary === 6 ? "busy" : "io_error";
}

/** A row of the `groups` query. */
export interface GroupRow {
  market: string;
  count: number;
  first_seq: number;
  last_seq: number;
}

/** A row of the `lastOf` query. */
export interface LastRow {
  name: string;
  last_trade_id: string | null;
  last_ts: number | null;
  last_id: string | null;
}

/** The newest appended trade a `lastOf` row records; null when the market never had one. */
export function toLastAppended(row: LastRow | undefined): LastAppended | null {
  if (!row || row.last_trade_id === null || row.last_ts === null || row.last_id === null) {
    return null;
  }
  return { market: row.name, tradeId: row.last_trade_id, ts: row.last_ts, id: row.last_id };
}

/**
 * Creates or checks the schema (inside the open's `BEGIN IMMEDIATE`).
 * @throws when the file was written by a newer schema
 */
export function initSchema(db: DatabaseSync, path: string): void {
  const version = Number(
    (db.prepare("PRAGMA user_version").get() as { user_version: number }).user_version,
  );
  if (version > SCHEMA_VERSION) {
    throw new Error(`${path} has schema ${version}; this btcfeed reads up to ${SCHEMA_VERSION}`);
  }
  db.exec(SCHEMA);
  db.exec(`PRAGMA user_version = ${SCHEMA_VERSION}`);
}
