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

/** The fsync policy in force on `db`, as SQLite reports it (`PRAGMA synchronous`). */
export function synchronousOf(db: DatabaseSync): "FULL" | "NORMAL" | "OTHER" {
  const v = Number((db.prepare("PRAGMA synchronous").get() as { synchronous: number }).synchronous);
  return v === 2 ? "FULL" : v === 1 ? "NORMAL" : "OTHER";
}

/** Whether each connection {@link immediateWithoutFsync} saw is FULL (fixed at open). */
const fullSync = new WeakMap<DatabaseSync, boolean>();

/**
 * {@link immediate} with `synchronous = NORMAL` for this one transaction on a FULL connection:
 * its commit gets no fsync of its own. For writes whose loss at a power cut is harmless
 * (acknowledgements: a lost one re-sends rows the primary treats as duplicates; the replay
 * lease: every holder died with the power). WAL order still holds: the next fsynced commit makes
 * this one durable too, and a power cut loses it only with everything after it.
 */
export function immediateWithoutFsync<T>(db: DatabaseSync, fn: () => T): T {
  let full = fullSync.get(db);
  if (full === undefined) fullSync.set(db, full = synchronousOf(db) === "FULL");
  if (!full) return immediate(db, fn);
  db.exec("PRAGMA synchronous = NORMAL");
  try {
    return immediate(db, fn);
  } finally {
    db.exec("PRAGMA synchronous = FULL");
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

/** Bytes on disk of the store file at `path` plus its WAL (0 for a missing part). */
export function storeBytes(path: string): number {
  let total = 0;
  for (const suffix of ["", "-wal"]) {
    try {
      total += Deno.statSync(path + suffix).size;
    } catch { /* no WAL right now */ }
  }
  return total;
}

/** SQLite's primary result codes for a damaged file: SQLITE_CORRUPT and SQLITE_NOTADB. */
const CORRUPT_CODES = new Set([11, 26]);
/** `db.exec` errors carry no `errcode`, only SQLite's message. */
const CORRUPT_MESSAGE = /database disk image is malformed|file is not a database/;

/** True when `e` (or its `cause`) says the store file is damaged, not busy, full or unwritable. */
export function isCorruptError(e: unknown): boolean {
  for (let x = e, depth = 0; x && depth < 4; x = (x as { cause?: unknown }).cause, depth++) {
    const code = (x as { errcode?: unknown }).errcode;
    if (typeof code === "number" && CORRUPT_CODES.has(code & 0xff)) return true;
    if (x instanceof Error && CORRUPT_MESSAGE.test(x.message)) return true;
  }
  return false;
}

/** Suffix of a store file moved aside as corrupt, then the UTC time: `.corrupt-20261202T013000Z`. */
const CORRUPT_SUFFIX = ".corrupt-";
/** Replaces {@link CORRUPT_SUFFIX} once `sync --recover` salvaged the file. */
const SALVAGED_SUFFIX = ".salvaged-";
const SIDECARS = ["", "-wal", "-shm"];

/**
 * Moves the store file with its `-wal`/`-shm` out of the way (`outbox.sqlite.corrupt-<UTC>`,
 * `...-wal`, `...-shm`, so SQLite still pairs them) and returns the new file name. Only the
 * stream lock's holder may call it: a process with the file open would keep writing to it.
 */
export function setAsideCorruptStore(dataDir: string, now = Date.now()): string {
  const stamp = new Date(now).toISOString().replace(/[-:]/g, "").replace(/\.\d+Z$/, "Z");
  let name = `${STORE_FILE}${CORRUPT_SUFFIX}${stamp}`;
  for (let n = 1; exists(join(dataDir, name)); n++) {
    name = `${STORE_FILE}${CORRUPT_SUFFIX}${stamp}.${n}`;
  }
  for (const side of SIDECARS) {
    try {
      Deno.renameSync(join(dataDir, STORE_FILE + side), join(dataDir, name + side));
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
  }
  return name;
}

/** Store files moved aside and not yet salvaged, oldest first; reads the directory only. */
export function corruptStoreFiles(dataDir: string): string[] {
  const pattern = new RegExp(`^${STORE_FILE.replace(".", "\\.")}\\.corrupt-[0-9TZ.]+$`);
  try {
    return [...Deno.readDirSync(dataDir)].map((e) => e.name).filter((n) => pattern.test(n))
      .sort();
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return [];
    throw e;
  }
}

/** Marks a moved-aside file (with its sidecars) as salvaged; returns its new name. */
export function markSalvaged(dataDir: string, name: string): string {
  const salvaged = name.replace(CORRUPT_SUFFIX, SALVAGED_SUFFIX);
  for (const side of SIDECARS) {
    try {
      Deno.renameSync(join(dataDir, name + side), join(dataDir, salvaged + side));
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
  }
  return salvaged;
}

/**
 * Opens a damaged file read-only for salvage. `writable_schema` with the defensive flag off makes
 * SQLite read a file shorter than its header says (a truncation) instead of refusing it whole;
 * the pages that are left stay readable, the missing ones fail the queries that reach them.
 */
export function openForSalvage(path: string): DatabaseSync {
  // `defensive` is in node:sqlite (and Deno's) but not yet in Deno's type declarations.
  const options = { readOnly: true, defensive: false } as { readOnly: boolean };
  const db = new DatabaseSync(path, options);
  db.exec("PRAGMA writable_schema = ON");
  return db;
}

function exists(path: string): boolean {
  try {
    Deno.lstatSync(path);
    return true;
  } catch {
    return false;
  }
}
