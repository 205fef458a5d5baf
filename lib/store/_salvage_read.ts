/**
 * Reading a damaged SQLite file as far as it goes (private to lib/store; used by salvage).
 *
 * Guarantees: nothing here writes; every read that hits a missing or damaged page is caught,
 * and what was read before it is kept. Tables are read in `seq` order, so rows come back in the
 * order they were written.
 */

import type { DatabaseSync, StatementSync } from "node:sqlite";

/** Rows per range read. */
export const BATCH = 1_000;

/**
 * Reads `table` in `seq` order, handing each readable batch to `take`. Where a range read fails
 * (a missing or damaged page), it steps one seq at a time until range reads work again or the
 * table's highest known seq is passed. `failed`: seqs whose single read failed.
 */
export function scan(
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

/**
 * Up to {@link BATCH} rows after `after`, as many as could be read before an error. `all()`
 * throws on a damaged page, but `iterate()` (Deno's node:sqlite) ends there silently: so the
 * batch is read with `all()`, and only after it failed is the prefix before the damage taken
 * from `iterate()`, marked incomplete.
 */
function readRange(range: StatementSync, after: number) {
  try {
    return { rows: range.all(after, BATCH) as Record<string, unknown>[], complete: true };
  } catch { /* read the prefix that is still readable */ }
  const rows: Record<string, unknown>[] = [];
  try {
    for (const row of range.iterate(after, BATCH)) rows.push(row as Record<string, unknown>);
  } catch { /* the rows read so far */ }
  return { rows, complete: false };
}

/** Every row `sql` yields, or none when a page it needs is damaged (a table without `seq`). */
export function readAll(db: DatabaseSync, sql: string): Record<string, unknown>[] {
  try {
    return (tryPrepare(db, sql)?.all() ?? []) as Record<string, unknown>[];
  } catch {
    return [];
  }
}

export function tryPrepare(db: DatabaseSync, sql: string): StatementSync | null {
  try {
    return db.prepare(sql);
  } catch {
    return null;
  }
}

export function tryGet<T>(db: DatabaseSync, sql: string): T | null {
  try {
    const row = tryPrepare(db, sql)?.get() as { v: T } | undefined;
    return row?.v ?? null;
  } catch {
    return null;
  }
}

/** True when `table` has the column `name`; false also when the schema cannot be read. */
export function hasColumn(db: DatabaseSync, table: string, name: string): boolean {
  const sql = `SELECT 1 AS v FROM pragma_table_info('${table}') WHERE name = '${name}'`;
  return tryGet<number>(db, sql) === 1;
}
