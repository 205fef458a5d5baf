/** SQLite helpers private to lib/failover. */

import type { DatabaseSync } from "node:sqlite";

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
