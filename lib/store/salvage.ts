/**
 * Salvage of store files moved aside as corrupt (`btcfeed sync --recover`).
 *
 * Guarantees:
 * - Every row that can still be read from a moved-aside file is appended to the live store as
 *   pending (trades keep their entry IDs, so the idempotent apply makes a re-send of a trade the
 *   primary already has harmless). Rows on pages that are gone are counted, never guessed.
 * - The moved-aside file is only read; once salvaged it is renamed `...salvaged-<UTC>` and no
 *   longer makes health fail. Running salvage twice appends nothing the second time.
 * - Cost: readable regions are read in ordered batches; across a damaged region each seq is
 *   tried on its own (tens of µs each), bounded by the file's own highest seq.
 */

import { join } from "node:path";
import type { DatabaseSync, StatementSync } from "node:sqlite";
import type { Journal } from "./journal.ts";
import { type GapRow, type GapStore, toGapRecord } from "./gap_store.ts";
import { type Row, toTrade } from "./_journal_sql.ts";
import { corruptStoreFiles, markSalvaged, openForSalvage } from "./_sqlite.ts";

export { corruptStoreFiles, isCorruptError, setAsideCorruptStore } from "./_sqlite.ts";

/** What salvaging one moved-aside file found. */
export interface SalvageResult {
  file: string;
  /** Trades appended to the live outbox as pending. */
  trades: number;
  /** Pending trades the file held that could not be read (its depth minus what was read). */
  unreadable: number;
  /** Gap records appended to the live gap store. */
  gapRecords: number;
  /** Trades the live outbox refused (at its limit or a disk error). */
  refused: number;
  /** The file's name after salvage. */
  renamedTo: string;
}

const BATCH = 1_000;

/** Salvages every moved-aside store file of `dataDir` into `outbox` and `gaps`, oldest first. */
export function salvageAll(dataDir: string, outbox: Journal, gaps: GapStore): SalvageResult[] {
  return corruptStoreFiles(dataDir).map((file) => salvageFile(dataDir, file, outbox, gaps));
}

function salvageFile(dataDir: string, file: string, outbox: Journal, gaps: GapStore) {
  const db = openForSalvage(join(dataDir, file));
  let result: Omit<SalvageResult, "renamedTo">;
  try {
    const markets = readMarkets(db);
    // Schema 2 (the journal) keeps acknowledged rows too: only the pending ones are salvaged.
    const table = tryGet<number>(db, "SELECT 1 AS v FROM sqlite_master WHERE name = 'journal'")
      ? "journal"
      : "outbox";
    const acked = readAcked(db);
    const depth = tryGet<number>(db, "SELECT value AS v FROM meta WHERE key = 'depth'");
    let trades = 0;
    let refused = 0;
    let pendingRead = 0;
    const scanned = scan(
      db,
      table,
      "seq, market_id, trade_id, price, size, side, ts, " +
        "received_at, id",
      (rows) => {
        const batch = rows.flatMap((r) => {
          const row = r as unknown as Omit<Row, "market"> & { market_id: number };
          if (Number(row.seq) <= (acked.get(Number(row.market_id)) ?? 0)) return [];
          pendingRead++;
          const trade = rowTrade(row, markets);
          return trade ? [trade] : [];
        });
        const outcome = outbox.append(batch);
        trades += outcome.appended;
        refused += batch.length - outcome.appended;
      },
    );
    let gapRecords = 0;
    scan(db, "gaps", "*", (rows) => {
      for (const r of rows as unknown as GapRow[]) {
        gaps.append(toGapRecord(r), Number(r.detected_at));
        gapRecords++;
      }
    });
    const unreadable = depth === null ? scanned.failed : Math.max(0, depth - pendingRead);
    result = { file, trades, unreadable, gapRecords, refused };
  } finally {
    db.close();
  }
  return { ...result, renamedTo: markSalvaged(dataDir, file) };
}

/**
 * Reads `table` in `seq` order, handing each readable batch to `take`. Where a range read fails
 * (a missing or damaged page), it steps one seq at a time until range reads work again or the
 * table's highest known seq is passed.
 */
function scan(
  db: DatabaseSync,
  table: string,
  cols: string,
  take: (rows: Record<string, unknown>[]) => void,
): { read: number; failed: number } {
  const range = tryPrepare(db, `SELECT ${cols} FROM ${table} WHERE seq > ? ORDER BY seq LIMIT ?`);
  const one = tryPrepare(db, `SELECT ${cols} FROM ${table} WHERE seq = ?`);
  if (!range || !one) return { read: 0, failed: 0 };
  const upper = Math.max(
    tryGet<number>(db, `SELECT seq AS v FROM sqlite_sequence WHERE name = '${table}'`) ?? 0,
    tryGet<number>(db, `SELECT max(seq) AS v FROM ${table}`) ?? 0,
  );
  let after = 0;
  let read = 0;
  let failed = 0;
  for (;;) {
    const { rows, complete } = readRange(range, after);
    if (rows.length > 0) {
      take(rows);
      read += rows.length;
      after = Number(rows[rows.length - 1].seq);
      if (complete && rows.length === BATCH) continue;
    }
    if (complete) return { read, failed };
    if (++after > upper) return { read, failed };
    try {
      const row = one.get(after);
      if (row) {
        take([row]);
        read++;
      }
    } catch {
      failed++;
    }
  }
}

/** Up to {@link BATCH} rows after `after`, as many as could be read before an error. */
function readRange(range: StatementSync, after: number) {
  const rows: Record<string, unknown>[] = [];
  try {
    for (const row of range.iterate(after, BATCH)) rows.push(row as Record<string, unknown>);
    return { rows, complete: true };
  } catch {
    return { rows, complete: false };
  }
}

function readMarkets(db: DatabaseSync): Map<number, string> {
  const names = new Map<number, string>();
  const rows = tryPrepare(db, "SELECT id, name FROM markets");
  try {
    for (const r of rows?.iterate() ?? []) names.set(Number(r.id), String(r.name));
  } catch { /* the markets that were readable */ }
  return names;
}

/** Each market's acknowledgement watermark (schema 2); empty for an outbox of schema 1. */
function readAcked(db: DatabaseSync): Map<number, number> {
  const acked = new Map<number, number>();
  const rows = tryPrepare(db, "SELECT id, acked_seq FROM markets");
  try {
    for (const r of rows?.iterate() ?? []) acked.set(Number(r.id), Number(r.acked_seq));
  } catch { /* no watermark readable: every row is salvaged (re-sends are harmless) */ }
  return acked;
}

/** The trade a journal (or earlier outbox) row holds, its market looked up by id. */
function rowTrade(r: Omit<Row, "market"> & { market_id: number }, markets: Map<number, string>) {
  const market = markets.get(Number(r.market_id));
  return market ? toTrade({ ...r, market }) : null;
}

function tryPrepare(db: DatabaseSync, sql: string): StatementSync | null {
  try {
    return db.prepare(sql);
  } catch {
    return null;
  }
}

function tryGet<T>(db: DatabaseSync, sql: string): T | null {
  try {
    const row = tryPrepare(db, sql)?.get() as { v: T } | undefined;
    return row?.v ?? null;
  } catch {
    return null;
  }
}
