/**
 * The parts of a test Sentinel group that depend on how it is protected: how a helper reaches a
 * data node or a sentinel (password, TLS), and the sentinel.conf lines for it. Private to
 * tests/support (used by `sentinel.ts` only).
 *
 * Guarantees: {@link query} never throws (null when the server does not answer or refuses), and
 * its connection is closed before it returns; every config line comes from the options given.
 */

import { Redis, type RedisOptions } from "ioredis";
import type { TlsMaterial } from "./redis_server.ts";

/** How a helper connection authenticates and whether it speaks TLS (verified against `ca`). */
export interface Dial {
  username?: string;
  password?: string;
  /** PEM of the CA to verify the server with; TLS is on when present. */
  ca?: string;
}

/** ioredis options for a client of a server reached with `dial` (no TLS, no AUTH when empty). */
export function dialOptions(dial: Dial): RedisOptions {
  return {
    ...(dial.username ? { username: dial.username } : {}),
    ...(dial.password ? { password: dial.password } : {}),
    ...(dial.ca ? { tls: { ca: dial.ca } } : {}),
  };
}

/** One command on a short-lived connection; null when the server does not answer. */
export async function query(
  port: number,
  [command, ...args]: string[],
  dial: Dial = {},
): Promise<unknown> {
  const client = new Redis({
    host: "127.0.0.1",
    port,
    lazyConnect: true,
    connectTimeout: 300,
    commandTimeout: 300,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    enableOfflineQueue: false,
    ...dialOptions(dial),
  });
  client.on("error", () => {});
  try {
    await client.connect();
    return await client.call(command, ...args);
  } catch {
    return null;
  } finally {
    client.disconnect();
  }
}

/** What protects a group: the sentinels' password, the data nodes' user, TLS everywhere. */
export interface Protection {
  sentinelPassword?: string;
  dataUser?: { user: string; password: string };
  tls?: TlsMaterial;
}

/** `port` and TLS lines of a sentinel listening on `port`: TLS only (`port 0`) when `tls`. */
export function listenLines(port: number, tls?: TlsMaterial): string[] {
  if (!tls) return [`port ${port}`];
  return [
    "port 0",
    `tls-port ${port}`,
    `tls-cert-file ${tls.certFile}`,
    `tls-key-file ${tls.keyFile}`,
    `tls-ca-cert-file ${tls.caFile}`,
    "tls-auth-clients no",
    // Outgoing links (to the data nodes and to the other sentinels) over TLS too.
    "tls-replication yes",
  ];
}

/**
 * Sentinel lines for `p`: `requirepass` and `sentinel sentinel-pass` (the sentinels then reach
 * each other with it), `sentinel auth-user` / `auth-pass` to reach the data nodes as their user.
 */
export function authLines(masterName: string, p: Protection): string[] {
  const lines: string[] = [];
  if (p.sentinelPassword) {
    lines.push(`requirepass ${p.sentinelPassword}`, `sentinel sentinel-pass ${p.sentinelPassword}`);
  }
  if (p.dataUser) {
    lines.push(`sentinel auth-user ${masterName} ${p.dataUser.user}`);
    lines.push(`sentinel auth-pass ${masterName} ${p.dataUser.password}`);
  }
  return lines;
}

/** How helpers reach the data nodes and the sentinels of a group protected by `p`. */
export async function dials(p: Protection): Promise<{ data: Dial; sentinel: Dial }> {
  const ca = p.tls ? await Deno.readTextFile(p.tls.caFile) : undefined;
  return {
    data: { username: p.dataUser?.user, password: p.dataUser?.password, ca },
    sentinel: { password: p.sentinelPassword, ca },
  };
}
