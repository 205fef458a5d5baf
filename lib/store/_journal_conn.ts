/**
 * The journal's connection (private to lib/store; see journal.ts): the database, its prepared
 * statements, and the one place SQLite failures become {@link JournalError}s. Every write runs
 * in one `BEGIN IMMEDIATE` transaction; reads run outside one.
 */

import type { DatabaseSync, StatementSync } from "node:sqlite";
import { errorText } from "../redact.ts";
import { immediate, immediateWithoutFsync, prepareAll, synchronousOf } from "./_sqlite.ts";
import { classifySqliteError, JournalError, type MarketRow, SQL } from "./_journal_sql.ts";

/** The journal's statements, by name. */
export type Statements = Record<keyof typeof SQL, StatementSync>;

/** One open journal database with its statements; callers own its lifetime. */
export class JournalConn {
  readonly db: DatabaseSync;
  readonly s: Statements;

  constructor(db: DatabaseSync) {
    this.db = db;
    this.s = prepareAll(db, SQL);
  }

  /** Runs `fn` in a `BEGIN IMMEDIATE` transaction; failures become {@link JournalError}s. */
  write<T>(fn: () => T): T {
    return this.guard(() => immediate(this.db, fn));
  }

  /** {@link write} without an fsync of its own (see `immediateWithoutFsync`). */
  writeUnsynced<T>(fn: () => T): T {
    return this.guard(() => immediateWithoutFsync(this.db, fn));
  }

  /** Runs `fn`; a SQLite failure becomes a {@link JournalError} with its reason. */
  guard<T>(fn: () => T): T {
    try {
      return fn();
    } catch (e) {
      if (e instanceof JournalError) throw e;
      const reason = classifySqliteError(e);
      throw new JournalError(reason, `outbox ${reason}: ${errorText(e)}`, e);
    }
  }

  /** The number in column `field` of `statement`'s first row (run with `params`). */
  number(statement: keyof Statements, field: string, ...params: (number | string)[]): number {
    return Number((this.s[statement].get(...params) as Record<string, number>)[field]);
  }

  /** The fsync policy in force on this connection (`PRAGMA synchronous`). */
  synchronous(): "FULL" | "NORMAL" | "OTHER" {
    return synchronousOf(this.db);
  }

  /** The lowest acknowledgement watermark: pending scans start above it. */
  minAcked(): number {
    return this.number("minAcked", "seq");
  }

  /** The `markets` row of `market`, undefined when it never had a trade. */
  marketRow(market: string): MarketRow | undefined {
    return this.s.marketRow.get(market) as MarketRow | undefined;
  }
}
