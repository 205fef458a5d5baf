/**
 * The journal's on-disk schema, its statements and its row mapping (private to lib/store; see
 * journal.ts).
 *
 * Layout choices (measured in bench/outbox_bench.ts and while designing): typed columns rather
 * than a JSON payload (~62 vs ~200 bytes a row, and faster); markets interned in `markets`; the
 * entry ID stored only when it is not the usual `<ts>-<tradeId>` (NULL otherwise). Tables are
 * STRICT, and `side` is checked, so a malformed value cannot be stored.
 *
 * A trade's `flags` are stored as their comma-joined text (`block`, `rpi`, `block,rpi`; NULL for
 * none), in `journal` (CHECKed against `FLAG_TEXTS`) and `dead_letter`.
 *
 * Pending = rows of a market with `seq > markets.acked_seq` and no `dead_letter` row. Earlier
 * schemas are upgraded in place, in the open's transaction, one step after the other: schema 1
 * (the outbox of earlier versions) has its `outbox` table become `journal` (seqs and the
 * AUTOINCREMENT counter kept, every row pending); schema 2 gains the nullable `flags` columns
 * (every row kept, none flagged).
 */

import type { DatabaseSync } from "node:sqlite";
import { entryIdFor, FLAG_TEXTS, flagsFromText, type Trade, tradeProblem } from "../trade.ts";
import { LEASE_SCHEMA } from "./lease.ts";
import type { JournalPoint, LastAppended } from "./journal_types.ts";

/** Bumped on any incompatible schema change; a newer file is refused rather than misread. */
export const SCHEMA_VERSION = 3;

/** The journal's `flags` column: a valid flags text or NULL (schema 3). */
const FLAGS_COLUMN = `flags TEXT CHECK (flags IN (${FLAG_TEXTS.map((t) => `'${t}'`).join(", ")}))`;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS markets (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  last_trade_id TEXT,
  last_ts INTEGER,
  last_id TEXT,
  acked_seq INTEGER NOT NULL DEFAULT 0,
  rows INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE TABLE IF NOT EXISTS journal (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  market_id INTEGER NOT NULL,
  trade_id TEXT NOT NULL,
  price TEXT NOT NULL,
  size TEXT NOT NULL,
  side INTEGER NOT NULL CHECK (side IN (0, 1)),
  ts INTEGER NOT NULL,
  received_at INTEGER NOT NULL,
  id TEXT,
  ${FLAGS_COLUMN}
) STRICT;
CREATE INDEX IF NOT EXISTS journal_market_seq ON journal (market_id, seq);
CREATE TABLE IF NOT EXISTS dead_letter (
  seq INTEGER PRIMARY KEY, market TEXT NOT NULL, trade_id TEXT NOT NULL, price TEXT NOT NULL,
  size TEXT NOT NULL, side INTEGER NOT NULL, ts INTEGER NOT NULL, received_at INTEGER NOT NULL,
  id TEXT, reason TEXT NOT NULL, at INTEGER NOT NULL, flags TEXT
) STRICT;
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL) STRICT;
INSERT OR IGNORE INTO meta (key, value) VALUES ('depth', 0);
${LEASE_SCHEMA};
`;

/** Schema 1 → 2: the outbox's rows become the journal's, all pending (acked_seq 0). */
const FROM_V1 = `
ALTER TABLE outbox RENAME TO journal;
ALTER TABLE markets ADD COLUMN acked_seq INTEGER NOT NULL DEFAULT 0;
ALTER TABLE markets ADD COLUMN rows INTEGER NOT NULL DEFAULT 0;
UPDATE markets SET rows = (SELECT count(*) FROM journal j WHERE j.market_id = markets.id);
`;

/** Schema 2 → 3: trade flags, NULL (none) for every row already there. */
const FROM_V2 = `
ALTER TABLE journal ADD COLUMN ${FLAGS_COLUMN};
ALTER TABLE dead_letter ADD COLUMN flags TEXT;
`;

const COLS = "o.seq, m.name AS market, o.trade_id, o.price, o.size, o.side, o.ts, " +
  "o.received_at, o.id, o.flags";
const FROM = "FROM journal o JOIN markets m ON m.id = o.market_id";
const ENTRY_ID = "coalesce(o.id, o.ts || '-' || o.trade_id)";
const LIVE = "NOT EXISTS (SELECT 1 FROM dead_letter d WHERE d.seq = o.seq)";
/** A pending row, given `?` = the lowest watermark (a lower bound that lets SQLite seek). */
const PENDING = `o.seq > m.acked_seq AND ${LIVE}`;
const POINT = `o.seq, ${ENTRY_ID} AS id, o.trade_id, o.ts`;

/** Rows per multi-row insert: one statement call per this many trades (fewer calls, same rows). */
export const INSERT_ROWS = 64;
/** Parameters of one inserted row: `market_id`, then {@link tradeParams}. */
export const ROW_PARAMS = 9;
const INSERT_INTO = "INSERT INTO journal (market_id, trade_id, price, size, side, ts, " +
  "received_at, id, flags) VALUES ";
const ROW_VALUES = `(${Array(ROW_PARAMS).fill("?").join(", ")})`;

/** Every statement the journal prepares, by name. */
export const SQL = {
  depth: "SELECT value FROM meta WHERE key = 'depth'",
  addDepth: "UPDATE meta SET value = value + ? WHERE key = 'depth'",
  market: "SELECT id FROM markets WHERE name = ?",
  // A new market's watermark starts at the newest seq: no older row can be its, and the lowest
  // watermark (where pending scans start) does not fall back to 0.
  addMarket: "INSERT INTO markets (name, acked_seq) VALUES (?, " +
    "(SELECT coalesce(max(seq), 0) FROM journal)) RETURNING id",
  setLast: "UPDATE markets SET last_trade_id = ?, last_ts = ?, last_id = ?, rows = rows + ? " +
    "WHERE id = ?",
  lastOf: "SELECT name, last_trade_id, last_ts, last_id FROM markets WHERE name = ?",
  insert: INSERT_INTO + ROW_VALUES,
  insertMany: INSERT_INTO + Array(INSERT_ROWS).fill(ROW_VALUES).join(", "),
  minAcked: "SELECT coalesce(min(acked_seq), 0) AS seq FROM markets",
  peek: `SELECT ${COLS} ${FROM} WHERE o.seq > ? AND ${PENDING} ORDER BY o.seq LIMIT ?`,
  pendingUpTo: `SELECT count(*) AS n ${FROM} WHERE o.seq > ? AND o.seq <= ? AND ${PENDING}`,
  ack: "UPDATE markets SET acked_seq = max(acked_seq, ?)",
  maxSeq: "SELECT coalesce(max(seq), 0) AS seq FROM journal",
  // Columns named: an upgraded file's dead_letter has `flags` last, a new one's too.
  dead: "INSERT INTO dead_letter (seq, market, trade_id, price, size, side, ts, received_at, id, " +
    `flags, reason, at) SELECT ${COLS.replace(" AS market", "")}, ?, ? ${FROM} ` +
    `WHERE o.seq = ? AND ${PENDING}`,
  deadCount: "SELECT count(*) AS n FROM dead_letter",
  deadList: "SELECT * FROM dead_letter ORDER BY seq LIMIT ?",
  // Dead letters with their market's id and watermark, and whether their journal row exists
  // (the outbox of earlier versions moved dead letters out of its table).
  deadRows: "SELECT d.*, m.id AS market_id, m.acked_seq, " +
    "EXISTS (SELECT 1 FROM journal j WHERE j.seq = d.seq) AS present " +
    "FROM dead_letter d JOIN markets m ON m.name = d.market ORDER BY d.seq",
  deadDelete: "DELETE FROM dead_letter WHERE seq = ?",
  leaseHeld: "SELECT count(*) AS n FROM lease WHERE holder = ? AND expires_at > ?",
  groups: "SELECT m.name AS market, count(*) AS count, min(o.seq) AS first_seq, " +
    `max(o.seq) AS last_seq ${FROM} WHERE o.seq > ? AND ${PENDING} GROUP BY o.market_id ` +
    "ORDER BY m.name",
  entryIdAt: `SELECT ${ENTRY_ID} AS id FROM journal o WHERE o.seq = ?`,
  marketRow: "SELECT id, acked_seq, rows FROM markets WHERE name = ?",
  marketRows: "SELECT id, acked_seq, rows FROM markets",
  lastAcked: `SELECT ${POINT} FROM journal o WHERE o.market_id = ? AND o.seq <= ? AND ${LIVE} ` +
    "ORDER BY o.seq DESC LIMIT 1",
  oldest: `SELECT ${POINT} FROM journal o WHERE o.market_id = ? ORDER BY o.seq LIMIT 1`,
  ackedDesc: `SELECT ${POINT} FROM journal o WHERE o.market_id = ? AND o.seq <= ? ` +
    "ORDER BY o.seq DESC",
  ackedAsc: `SELECT ${POINT} FROM journal o WHERE o.market_id = ? AND o.seq > ? ORDER BY o.seq`,
  liveBetween: `SELECT count(*) AS n FROM journal o WHERE o.market_id = ? AND o.seq > ? ` +
    `AND o.seq <= ? AND ${LIVE}`,
  setAcked: "UPDATE markets SET acked_seq = ? WHERE id = ?",
  // Whether retention ever removed rows of a market: older trades are then gone from disk.
  markPruned: "INSERT OR REPLACE INTO meta (key, value) VALUES ('pruned:' || ?, 1)",
  pruned: "SELECT count(*) AS n FROM meta WHERE key = 'pruned:' || ?",
  pruneOldest: "DELETE FROM journal WHERE seq IN (SELECT seq FROM journal WHERE market_id = ? " +
    "AND seq < ? ORDER BY seq LIMIT ?)",
  pruneAged: "DELETE FROM journal WHERE seq IN (SELECT seq FROM (SELECT seq, received_at FROM " +
    "journal WHERE market_id = ? AND seq < ? ORDER BY seq LIMIT ?) WHERE received_at < ?)",
  addRows: "UPDATE markets SET rows = rows + ? WHERE id = ?",
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
  /** Comma-joined flags text; NULL for none (and absent in rows of schema 1 and 2 files). */
  flags?: string | null;
};

/** A row of `marketRow(s)`. */
export interface MarketRow {
  id: number;
  acked_seq: number;
  rows: number;
}

/** A row of the point queries (`lastAcked`, `oldest`, `ackedDesc`). */
export interface PointRow {
  seq: number;
  id: string;
  trade_id: string;
  ts: number;
}

/** The position and trade a point row names. */
export function toPoint(r: PointRow | undefined): JournalPoint | null {
  return r ? { seq: Number(r.seq), id: r.id, tradeId: r.trade_id, ts: Number(r.ts) } : null;
}

/** The trade a row holds. */
export function toTrade(r: Row): Trade {
  const flags = flagsFromText(r.flags);
  const t: Trade = {
    market: r.market,
    tradeId: r.trade_id,
    price: r.price,
    size: r.size,
    side: r.side === 1 ? "buy" : "sell",
    ts: r.ts,
    receivedAt: r.received_at,
    id: r.id ?? entryIdFor(r.ts, r.trade_id),
  };
  if (flags) t.flags = flags;
  return t;
}

/** Insert parameters after `market_id`, in {@link SQL.insert} order. */
export function tradeParams(
  t: Trade,
): [string, string, string, number, number, number, string | null, string | null] {
  const id = t.id === entryIdFor(t.ts, t.tradeId) ? null : t.id;
  const flags = t.flags ? t.flags.join(",") : null;
  return [t.tradeId, t.price, t.size, t.side === "buy" ? 1 : 0, t.ts, t.receivedAt, id, flags];
}

/** True when `t` follows the trade rules (`tradeProblem` in lib/trade.ts), as the writer needs. */
export function isStorable(t: Trade): boolean {
  return tradeProblem(t) === null;
}

/** A storage failure outside `append`; `reason` as {@link classifySqliteError} decides. */
export class JournalError extends Error {
  override name = "JournalError";
  reason: "disk_full" | "io_error" | "busy";
  constructor(reason: "disk_full" | "io_error" | "busy", message: string, cause: unknown) {
    super(message, { cause });
    this.reason = reason;
  }
}

/** The one place that classifies SQLite failures: FULL → disk_full, BUSY/LOCKED → busy, else io_error. */
export function classifySqliteError(e: unknown): "disk_full" | "io_error" | "busy" {
  if (e instanceof JournalError) return e.reason;
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
 * Creates, upgrades (schema 1, the outbox, then 2, no flags) or checks the schema, inside the
 * open's `BEGIN IMMEDIATE`: an upgrade is all or nothing.
 * @throws when the file was written by a newer schema
 */
export function initSchema(db: DatabaseSync, path: string): void {
  const version = Number(
    (db.prepare("PRAGMA user_version").get() as { user_version: number }).user_version,
  );
  if (version > SCHEMA_VERSION) {
    throw new Error(`${path} has schema ${version}; this btcfeed reads up to ${SCHEMA_VERSION}`);
  }
  if (version === 1) db.exec(FROM_V1);
  if (version === 1 || version === 2) db.exec(FROM_V2);
  db.exec(SCHEMA);
  db.exec(`PRAGMA user_version = ${SCHEMA_VERSION}`);
}
