/**
 * The replay lease: at most one replayer at a time across every process sharing a data directory.
 *
 * Guarantees:
 * - The lease is one row in the outbox database, read and written only inside `BEGIN IMMEDIATE`
 *   transactions, so two processes can never both believe they acquired it at the same moment.
 * - A lease is taken when it is free, expired, already held by the same holder, or held by a
 *   process that no longer exists. A holder string carries its pid (`sync:12345:k3j9x`, see
 *   {@link leaseHolderId}); liveness is read from `/proc/<pid>` (zombies count as dead), which
 *   needs only read permission. WAL mode already requires every process using the database to be
 *   on the same host; the lease also records the pid namespace, so a holder from another container
 *   sharing the volume is never judged dead by pid — it must expire. Where `/proc` is missing,
 *   a lease is only taken over after it expires.
 * - Fencing: {@link Lease.renew} returns false once someone else holds the lease. The replayer
 *   must renew after every await and stop (removing nothing) when it returns false.
 * - Times are an injected `now` (ms) so tests can drive expiry without waiting.
 */

import type { DatabaseSync, StatementSync } from "node:sqlite";

const LEASE_NAME = "replay";
const HOLDER_PID_RE = /^[^:]*:(\d+):/;

/** The lease row's schema; created by the outbox with its other tables. */
export const LEASE_SCHEMA = `CREATE TABLE IF NOT EXISTS lease (
  name TEXT PRIMARY KEY,
  holder TEXT NOT NULL,
  expires_at INTEGER NOT NULL,
  pid_ns TEXT
) STRICT`;

/** A lease row as stored. */
export interface LeaseInfo {
  holder: string;
  /** ms since the epoch. */
  expiresAt: number;
}

/** A fresh holder id for this process: `<role>:<pid>:<random>`. */
export function leaseHolderId(role: string): string {
  const random = crypto.getRandomValues(new Uint32Array(1))[0].toString(36);
  return `${role}:${Deno.pid}:${random}`;
}

/** The pid encoded in a holder id such as `sync:12345:abc`, or null. */
export function holderPid(holder: string): number | null {
  const m = HOLDER_PID_RE.exec(holder);
  return m ? Number(m[1]) : null;
}

let ownPidNamespace: string | null | undefined;

/** This process's pid namespace (`pid:[4026531836]`), or null when `/proc` cannot tell. */
export function pidNamespace(): string | null {
  if (ownPidNamespace === undefined) {
    try {
      ownPidNamespace = Deno.readLinkSync("/proc/self/ns/pid");
    } catch {
      ownPidNamespace = null;
    }
  }
  return ownPidNamespace;
}

/**
 * True unless `/proc` shows that `pid` does not exist (or is a zombie) in this pid namespace.
 * Any doubt (no `/proc`, no permission) answers true: a lease is never stolen on a guess.
 */
export function isPidAlive(pid: number): boolean {
  if (pid === Deno.pid) return true;
  if (pidNamespace() === null) return true;
  let stat: string;
  try {
    stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  } catch (e) {
    return !(e instanceof Deno.errors.NotFound);
  }
  const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
  return state !== "Z" && state !== "X";
}

/** The replay lease over an open database that holds {@link LEASE_SCHEMA}. */
export class Lease {
  #db: DatabaseSync;
  #get: StatementSync;
  #put: StatementSync;
  #renew: StatementSync;
  #release: StatementSync;

  constructor(db: DatabaseSync) {
    this.#db = db;
    this.#get = db.prepare("SELECT holder, expires_at, pid_ns FROM lease WHERE name = ?");
    this.#put = db.prepare(
      "INSERT INTO lease (name, holder, expires_at, pid_ns) VALUES (?, ?, ?, ?) " +
        "ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, " +
        "expires_at = excluded.expires_at, pid_ns = excluded.pid_ns",
    );
    this.#renew = db.prepare("UPDATE lease SET expires_at = ? WHERE name = ? AND holder = ?");
    this.#release = db.prepare("DELETE FROM lease WHERE name = ? AND holder = ?");
  }

  /** Takes the lease for `ttlMs` if it is free, expired, ours, or its holder's process is gone. */
  acquire(holder: string, ttlMs: number, now: number): boolean {
    return this.#immediate(() => {
      const row = this.#get.get(LEASE_NAME) as
        | { holder: string; expires_at: number; pid_ns: string | null }
        | undefined;
      if (row && row.holder !== holder && row.expires_at > now && !this.#holderDead(row)) {
        return false;
      }
      this.#put.run(LEASE_NAME, holder, now + ttlMs, pidNamespace());
      return true;
    });
  }

  /** Extends the lease; false when `holder` no longer holds it (the caller must stop). */
  renew(holder: string, ttlMs: number, now: number): boolean {
    return this.#immediate(() => this.#renew.run(now + ttlMs, LEASE_NAME, holder).changes === 1);
  }

  /** Gives the lease up if `holder` holds it; otherwise does nothing. */
  release(holder: string): void {
    this.#immediate(() => this.#release.run(LEASE_NAME, holder));
  }

  /** The current lease row, expired or not; null when nobody holds it. */
  info(): LeaseInfo | null {
    const row = this.#get.get(LEASE_NAME) as { holder: string; expires_at: number } | undefined;
    return row ? { holder: row.holder, expiresAt: row.expires_at } : null;
  }

  #holderDead(row: { holder: string; pid_ns: string | null }): boolean {
    const pid = holderPid(row.holder);
    const ns = pidNamespace();
    return pid !== null && ns !== null && row.pid_ns === ns && !isPidAlive(pid);
  }

  #immediate<T>(fn: () => T): T {
    this.#db.exec("BEGIN IMMEDIATE");
    try {
      const result = fn();
      this.#db.exec("COMMIT");
      return result;
    } catch (e) {
      if (this.#db.isTransaction) this.#db.exec("ROLLBACK");
      throw e;
    }
  }
}
