/**
 * Redis URLs and ioredis client options.
 *
 * Guarantees:
 * - A password never appears in an error message: errors show the URL through {@link redactUrl}.
 * - {@link parseRedisUrl} accepts only `redis://` and `rediss://`, a host, a port 1..65535, an
 *   optional numeric `/db` and optional `user:password@` (percent-encoded); anything else throws a
 *   one-line {@link RedisUrlError} that names where the URL came from (flag or variable).
 * - {@link redisOptions} gives fail-fast clients: no offline queue, no per-request retries, a
 *   command deadline, and TLS verification on unless explicitly turned off.
 */

import { readFileSync } from "node:fs";
import { isIP } from "node:net";
import type { RedisOptions } from "ioredis";

/** A bad Redis URL or client setting; the message is one line, names its source, has no secret. */
export class RedisUrlError extends Error {
  override name = "RedisUrlError";
  /** Where the value came from, e.g. `--primary` or `BTCFEED_PRIMARY_URL`. */
  readonly source: string;
  constructor(source: string, message: string) {
    super(`${source}: ${message}`);
    this.source = source;
  }
}

/** A validated Redis URL. */
export interface RedisUrl {
  /** True for `rediss://`. */
  tls: boolean;
  /** Host name or IP (IPv6 without brackets). */
  host: string;
  port: number;
  db: number;
  username?: string;
  password?: string;
  /** The URL with the password replaced by `***`, for logs and errors. */
  redacted: string;
}

/** The URL text with any password (userinfo after `user:`) replaced by `***`; never throws. */
export function redactUrl(text: string): string {
  const s = String(text).replace(/[\r\n\t]/g, " ");
  const schemeEnd = s.indexOf("://");
  const start = schemeEnd >= 0 ? schemeEnd + 3 : 0;
  const at = s.lastIndexOf("@");
  if (at < start) return s;
  const userinfo = s.slice(start, at);
  const colon = userinfo.indexOf(":");
  // Without a colon the userinfo may well be a password typed in the wrong place: hide it too.
  const shown = colon >= 0 ? `${userinfo.slice(0, colon)}:***` : "***";
  return `${s.slice(0, start)}${shown}${s.slice(at)}`;
}

const HOST_RE = /^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$/;

/**
 * Parses and validates a Redis URL.
 * @param source the flag or variable the text came from, used in error messages.
 * @throws RedisUrlError naming `source` when the URL is not valid.
 */
export function parseRedisUrl(text: string, source: string): RedisUrl {
  const redacted = redactUrl(text);
  const fail = (why: string): never => {
    throw new RedisUrlError(source, `${why} in ${JSON.stringify(redacted)}`);
  };
  const m = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/(.*)$/s.exec(text);
  if (!m) return fail("expected redis://[user:password@]host[:port][/db]");
  const scheme = m[1].toLowerCase();
  if (scheme !== "redis" && scheme !== "rediss") {
    return fail(`unsupported scheme "${scheme}" (use redis:// or rediss://)`);
  }
  let rest = m[2];
  let username: string | undefined;
  let password: string | undefined;
  const at = rest.lastIndexOf("@");
  if (at >= 0) {
    const userinfo = rest.slice(0, at);
    rest = rest.slice(at + 1);
    const colon = userinfo.indexOf(":");
    try {
      const user = decodeURIComponent(colon >= 0 ? userinfo.slice(0, colon) : userinfo);
      if (user) username = user;
      if (colon >= 0) password = decodeURIComponent(userinfo.slice(colon + 1));
    } catch {
      return fail("bad percent-encoding in the user or password");
    }
  }
  if (/[?#]/.test(rest)) return fail("query and fragment are not supported");
  const slash = rest.indexOf("/");
  const authority = slash >= 0 ? rest.slice(0, slash) : rest;
  const path = slash >= 0 ? rest.slice(slash + 1) : "";

  let host: string;
  let portText: string | undefined;
  if (authority.startsWith("[")) {
    const v6 = /^\[([^\]]*)\](?::(.*))?$/.exec(authority);
    if (!v6 || isIP(v6[1]) !== 6) return fail("bad IPv6 address");
    host = v6[1];
    portText = v6[2];
  } else {
    const colon = authority.lastIndexOf(":");
    host = colon >= 0 ? authority.slice(0, colon) : authority;
    portText = colon >= 0 ? authority.slice(colon + 1) : undefined;
    if (!host) return fail("missing host");
    if (!HOST_RE.test(host)) return fail("bad host");
  }
  let port = 6379;
  if (portText !== undefined) {
    port = /^[0-9]{1,5}$/.test(portText) ? Number(portText) : NaN;
    if (!(port >= 1 && port <= 65535)) return fail("port must be 1..65535");
  }
  let db = 0;
  if (path !== "") {
    if (!/^[0-9]{1,9}$/.test(path)) return fail("database must be a number (/0, /1, ...)");
    db = Number(path);
  }
  return { tls: scheme === "rediss", host, port, db, username, password, redacted };
}

/** How {@link redisOptions} builds a client. */
export interface RedisClientOptions {
  /** PEM file with the CA(s) that signed the server certificate (rediss:// only). */
  tlsCaFile?: string;
  /** Skip TLS certificate verification (explicit opt-out, for testing only). @default false */
  insecureTls?: boolean;
  /** Deadline for TCP (and TLS) connect. @default 1000 */
  connectTimeoutMs: number;
  /** Deadline per command, from send to reply; null: none (the caller bounds each call). @default 1000 */
  commandTimeoutMs: number | null;
  /** Shown in CLIENT LIST. @default "btcfeed" */
  connectionName?: string;
}

/** The defaults of {@link RedisClientOptions}, defined once. */
export const DEFAULT_REDIS_CLIENT_OPTIONS: Readonly<RedisClientOptions> = Object.freeze({
  insecureTls: false,
  connectTimeoutMs: 1000,
  commandTimeoutMs: 1000,
  connectionName: "btcfeed",
});

/** Reconnect delay after `attempt` failures: 100 ms doubling to 2 s, ±20% jitter. */
export function reconnectDelayMs(attempt: number, random: () => number = Math.random): number {
  const base = Math.min(2000, 100 * 2 ** Math.max(0, Math.min(attempt - 1, 10)));
  return Math.round(base * (0.8 + 0.4 * random()));
}

/**
 * ioredis options for `url`: lazy, fail-fast (no offline queue, `maxRetriesPerRequest: 0`, so a
 * command in flight when the connection drops is rejected at once instead of being resent after
 * a reconnect), deadlines, jittered capped reconnects, TLS verified against `tlsCaFile`.
 * @throws RedisUrlError when the CA file cannot be read (source `tls CA file`).
 */
export function redisOptions(
  url: RedisUrl,
  options: Partial<RedisClientOptions> = {},
): RedisOptions {
  const o = { ...DEFAULT_REDIS_CLIENT_OPTIONS, ...options };
  const result: RedisOptions = {
    host: url.host,
    port: url.port,
    db: url.db,
    username: url.username,
    password: url.password,
    connectionName: o.connectionName,
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    autoResubscribe: false,
    enableReadyCheck: true,
    connectTimeout: o.connectTimeoutMs,
    commandTimeout: o.commandTimeoutMs ?? undefined,
    retryStrategy: (attempt: number) => reconnectDelayMs(attempt),
    // ioredis otherwise keeps a closed socket's timer alive for 2 s, delaying process exit.
    disconnectTimeout: 100,
  };
  if (url.tls) {
    let ca: string | undefined;
    if (o.tlsCaFile) {
      try {
        ca = readFileSync(o.tlsCaFile, "utf8");
      } catch (e) {
        const why = (e as { code?: string }).code ?? "unreadable";
        throw new RedisUrlError("tls CA file", `cannot read ${o.tlsCaFile} (${why})`);
      }
    }
    result.tls = {
      rejectUnauthorized: !o.insecureTls,
      ...(ca ? { ca } : {}),
      // SNI must be a name, never an IP address (RFC 6066).
      ...(isIP(url.host) ? {} : { servername: url.host }),
    };
  }
  return result;
}
