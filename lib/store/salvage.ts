/**
 * Salvage of store files moved aside as corrupt (`btcfeed sync --recover`).
 *
 * Guarantees:
 * - Every row that can still be read from a moved-aside file is appended to the live store as
 *   pending (trades keep their entry IDs and flags, so the idempotent apply makes a re-send of a
 *   trade the primary already has harmless). Rows on pages that are gone are counted, never guessed.
 * - Gap recovery's state goes back too: held live trades and pending gaps are restored into the
 *   live recovery store, per market, when no stream has streamed that market since (the next
 *   `stream` resumes the gap, then releases the held trades in order); otherwise they are
 *   counted as superseded (see `_salvage_recovery.ts`).
 * - The moved-aside file is only read; once salvaged it is renamed `...salvaged-<UTC>` and no
 *   longer makes health fail. Running salvage twice appends nothing the second time.
 * - Cost: readable regions are read in ordered batches; across a damaged region each seq is
 *   tried on its own (tens of µs each), bounded by the file's own highest seq.
 */

import { join } from "node:path";
import type { DatabaseSync } from "node:sqlite";
import type { Journal } from "./journal.ts";
import { type GapRow, type GapStore, toGapRecord } from "./gap_store.ts";
import type { RecoveryStore } from "./recovery_store.ts";
import { type Row, toTrade } from "./_journal_sql.ts";
import { corruptStoreFiles, markSalvaged, openForSalvage } from "./_sqlite.ts";
import { hasColumn, scan, tryGet, tryPrepare } from "./_salvage_read.ts";
import { type RecoverySalvage, salvageRecovery } from "./_salvage_recovery.ts";

export { corruptStoreFiles, isCorruptError, setAsideCorruptStore } from "./_sqlite.ts";

/** What salvaging one moved-aside file found. */
export interface SalvageResult extends RecoverySalvage {
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

/** The live stores salvaged rows go into. */
export interface SalvageTargets {
  journal: Journal;
  gaps: GapStore;
  recovery: RecoveryStore;
}

/**
 * Salvages every moved-aside store file of `dataDir` into the live stores, oldest first.
 * `restore`: no stream runs, so held trades and pending gaps may go back (see
 * `_salvage_recovery.ts`); with a stream running they are counted as superseded.
 */
export function salvageAll(
  dataDir: string,
  live: SalvageTargets,
  restore: boolean,
): SalvageResult[] {
  return corruptStoreFiles(dataDir).map((file) => salvageFile(dataDir, file, live, restore));
}

function salvageFile(dataDir: string, file: string, live: SalvageTargets, restore: boolean) {
  const { journal: outbox, gaps } = live;
  const db = openForSalvage(join(dataDir, file));
  let result: Omit<SalvageResult, "renamedTo">;
  try {
    // Decided against the live store before this file's trades land in its journal.
    const recovery = salvageRecovery(db, live, restore);
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
    // Schema 3 keeps trade flags; a file of an earlier schema has no such column.
    const flags = hasColumn(db, table, "flags") ? ", flags" : "";
    const scanned = scan(
      db,
      table,
      `seq, market_id, trade_id, price, size, side, ts, received_at, id${flags}`,
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
    result = { file, trades, unreadable, gapRecords, refused, ...recovery };
  } finally {
    db.close();
  }
  return { ...result, renamedTo: markSalvaged(dataDir, file) };
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
