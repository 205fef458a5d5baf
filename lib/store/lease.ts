/**
 * The replay lease: at most one replayer at a time across every process sharing a data directory.
 *
 * Guarantees:
 * - The lease is one row in the outbox database, read and written only inside `BEGIN IMMEDIATE`
 *   transactions, so two processes can never both believe they acquired it at the same moment.
 * - A lease is taken when it is free, expired, already held by the same holder, or held by a
 *   process that no longer exists. A holder string carries its pid (`sync:12345:k3j9x`, see
 *   {@link leaseHolderId}) and the row records the holder's host name. A holder is judged dead
 *   only when it is on this host (WAL mode already requires every process using the database to
 *   be on one host; a container sharing the volume has its own host name, and a pid there means
 *   nothing here) and the pid is gone: `/proc/<pid>/stat` missing or a zombie, or, where Deno
 *   refuses `/proc` (it demands `--allow-all` for it, even with `--allow-read`), `kill -0 <pid>`
 *   answering "No such process" (the `btcfeed` task allows running `kill`). Any doubt — no host
 *   name (`--allow-sys` missing), no way to ask — counts as alive: the lease then waits for expiry.
 * - Fencing: {@link Lease.renew} returns false once someone else holds the lease. The replayer
 *   must renew after every await and stop (removing nothing) when it returns false.
 * - Times are an injected `now` (ms) so tests can drive expiry without waiting.
 */

import type { DatabaseSync, StatementSync } from "node:sqlite";
import { immediateWithoutFsync } from "./_sqlite.ts";

const LEASE_NAME = "replay";
const HOLDER_PID_RE = /^[^:]*:(\d+):/;

/** The lease row's schema; created by the outbox with its other tables. */
export const LEASE_SCHEMA = `CREATE TABLE IF NOT EXISTS lease (
  name TEXT PRIMARY KEY,
  holder TEXT NOT NULL,
  expires_at INTEGER NOT NULL,
  host TEXT
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

let ownHost: string | null | undefined;

/** This host's name, or null without `--allow-sys`. */
export function hostName(): string | null {
  if (ownHost === undefined) {
    try {
      ownHost = Deno.hostname();
    } catch {
      ownHost = null;
    }
  }
  return ownHost;
}

/**
 * False only when `pid` certainly does not exist on this host (or is a zombie); any doubt
 * (no permission, no `kill` binary) answers true, so a lease is never stolen on a guess.
 */
export function isPidAlive(pid: number): boolean {
  if (pid === Deno.pid) return true;
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    const state = stat.charAt(stat.lastIndexOf(")") + 2);
    return state !== "Z" && state !== "X";
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
  }
  try {
    const out = new Deno.Command("kill", {
      args: ["-0", String(pid)],
      env: { LC_ALL: "C" },
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).outputSync();
    return out.success || !new TextDecoder().decode(out.stderr).includes("No such process");
  } catch {
    return true;
  }
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
    this.#get = db.prepare("SELECT holder, expires_at, host FROM lease WHERE name = ?");
    this.#put = db.prepare(
      "INSERT INTO lease (name, holder, expires_at, host) VALUES (?, ?, ?, ?) " +
        "ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, " +
        "expires_at = excluded.expires_at, host = excluded.host",
    );
    this.#renew = db.prepare("UPDATE lease SET expires_at = ? WHERE name = ? AND holder = ?");
    this.#release = db.prepare("DELETE FROM lease WHERE name = ? AND holder = ?");
  }

  /** Takes the lease for `ttlMs` if it is free, expired, ours, or its holder's process is gone. */
  acquire(holder: string, ttlMs: number, now: number): boolean {
    return this.#write(() => {
      const row = this.#get.get(LEASE_NAME) as
        | { holder: string; expires_at: number; host: string | null }
        | undefined;
      if (row && row.holder !== holder && row.expires_at > now && !this.#holderDead(row)) {
        return false;
      }
      this.#put.run(LEASE_NAME, holder, now + ttlMs, hostName());
      return true;
    });
  }

  /** Extends the lease; false when `holder` no longer holds it (the caller must stop). */
  renew(holder: string, ttlMs: number, now: number): boolean {
    return this.#write(() => this.#renew.run(now + ttlMs, LEASE_NAME, holder).changes === 1);
  }

  /** Gives the lease up if `holder` holds it; otherwise does nothing. */
  release(holder: string): void {
    this.#write(() => this.#release.run(LEASE_NAME, holder));
  }

  /** One lease transaction, not fsynced: a power cut ends every holder anyway. */
  #write<T>(fn: () => T): T {
    return immediateWithoutFsync(this.#db, fn);
  }

  /** The current lease row, expired or not; null when nobody holds it. */
  info(): LeaseInfo | null {
    const row = this.#get.get(LEASE_NAME) as { holder: string; expires_at: number } | undefined;
    return row ? { holder: row.holder, expiresAt: row.expires_at } : null;
  }

  #holderDead(row: { holder: string; host: string | null }): boolean {
    const pid = holderPid(row.holder);
    const host = hostName();
    return pid !== null && host !== null && row.host === host && !isPidAlive(pid);
  }
}
