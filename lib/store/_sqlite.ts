/**
 * The one way lib/store opens its SQLite file and writes to it (private to lib/store).
 *
 * Every connection gets the same settings: WAL, `busy_timeout` (so `stream`, `sync` and
 * `health` share the file from separate processes) and `synchronous` (FULL unless asked
 * otherwise). Every write is one `BEGIN IMMEDIATE` transaction.
 */

import { DatabaseSync, type StatementSync } from "node:sqlite";
import { join } from "node:path";

/** The one SQLite file of a data directory: outbox, dead letters, lease and gap records. */
export const STORE_FILE = "outbox.sqlite";

/** How {@link openStore} opens the file. */
export interface StoreOpenOptions {
  busyTimeoutMs: number;
  synchronous?: "FULL" | "NORMAL";
  /** `max_page_count`: beyond it writes fail as disk full. */
  maxPages?: number | null;
}

/**
 * Opens (creating, with `dataDir`) `<dataDir>/outbox.sqlite`, sets the PRAGMAs, then runs
 * `init` in one `BEGIN IMMEDIATE` transaction (schema creation, version checks). The connection
 * is closed again if anything throws.
 * @throws when the directory or file cannot be created or opened, or `init` throws
 */
export function openStore(
  dataDir: string,
  options: StoreOpenOptions,
  init: (db: DatabaseSync, path: string) => void,
): { db: DatabaseSync; path: string } {
  Deno.mkdirSync(dataDir, { recursive: true });
  const path = join(dataDir, STORE_FILE);
  const db = new DatabaseSync(path);
  try {
    db.exec(`PRAGMA busy_timeout = ${Math.max(0, Math.floor(options.busyTimeoutMs))}`);
    db.exec("PRAGMA journal_mode = WAL");
    db.exec(`PRAGMA synchronous = ${options.synchronous === "NORMAL" ? "NORMAL" : "FULL"}`);
    if (options.maxPages != null) {
      db.exec(`PRAGMA max_page_count = ${Math.floor(options.maxPages)}`);
    }
    immediate(db, () => init(db, path));
    return { db, path };
  } catch (e) {
    db.close();
    throw e;
  }
}

/**
 * Runs `fn` in a `BEGIN IMMEDIATE` transaction (the write lock is taken up front, so concurrent
 * processes wait on `busy_timeout` instead of failing mid-way); rolls back if `fn` throws.
 */
export function immediate<T>(db: DatabaseSync, fn: () => T): T {
  db.exec("BEGIN IMMEDIATE");
  try {
    const result = fn();
    db.exec("COMMIT");
    return result;
  } catch (e) {
    if (db.isTransaction) db.exec("ROLLBACK");
    throw e;
  }
}

/** Prepares every statement of `sql` once, keyed like it. */
export function prepareAll<K extends string>(
  db: DatabaseSync,
  sql: Record<K, string>,
): Record<K, StatementSync> {
  return Object.fromEntries(
    Object.entries<string>(sql).map(([name, text]) => [name, db.prepare(text)]),
  ) as Record<K, StatementSync>;
}
