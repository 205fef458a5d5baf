/**
 * Redis URLs and ioredis client options.
 *
 * Guarantees:
 * - A password never appears in an error message: errors show the URL through {@link redactUrl}.
 * - {@link parseRedisUrl} accepts `redis://` and `rediss://` (a host, a port 1..65535, an
 *   optional numeric `/db`) and `redis+sentinel://` / `rediss+sentinel://` (a comma-separated
 *   list of sentinels, default port 26379, then `/<master-name>[/db]`), each with an optional
 *   `user:password@` (percent-encoded) for the data nodes, and `redis+cluster://` /
 *   `rediss+cluster://` (a comma-separated list of seed nodes, default port 6379, no `/db`: a
 *   cluster has only database 0); anything else throws a one-line {@link RedisUrlError} that
 *   names where the URL came from (flag or variable).
 * - {@link redisOptions} gives fail-fast clients: no offline queue, no per-request retries, a
 *   command deadline, and TLS verification on unless explicitly turned off. A Sentinel URL gives
 *   ioredis' own Sentinel client (`role: "master"`, its failover detector on), so a promoted
 *   master is found by ioredis, never by code here.
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
  /** True for `rediss://` and `rediss+sentinel://`. */
  tls: boolean;
  /** Host name or IP (IPv6 without brackets); the first sentinel for a Sentinel URL. */
  host: string;
  port: number;
  db: number;
  username?: string;
  password?: string;
  /** The URL with the password replaced by `***`, for logs and errors. */
  redacted: string;
  /** Present only for a Sentinel URL: where to ask, and for which master. */
  sentinel?: SentinelTarget;
  /** Present only for a Cluster URL: the seed nodes ioredis' Cluster client starts from. */
  cluster?: { nodes: { host: string; port: number }[] };
}

/** The sentinels of a `redis+sentinel://` URL and the name of the master they monitor. */
export interface SentinelTarget {
  nodes: { host: string; port: number }[];
  masterName: string;
}

/** The variable the sentinels' own password comes from (the only place it can be given). */
export const SENTINEL_PASSWORD_ENV = "BTCFEED_SENTINEL_PASSWORD";

/** Default port of a sentinel (and of a plain Redis) when the URL names none. */
const SENTINEL_PORT = 26379;
const REDIS_PORT = 6379;
const SCHEMES = [
  "redis",
  "rediss",
  "redis+sentinel",
  "rediss+sentinel",
  "redis+cluster",
  "rediss+cluster",
];
const SCHEME_LIST = "redis:// or rediss://, redis+sentinel:// or rediss+sentinel://, " +
  "redis+cluster:// or rediss+cluster://";
const FORMS = "redis://[user:password@]host[:port][/db], " +
  "redis+sentinel://[user:password@]host:26379,host:26379/<master>[/db] or " +
  "redis+cluster://[user:password@]host:port,host:port";

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
  if (!m) return fail(`expected ${FORMS}`);
  const scheme = m[1].toLowerCase();
  if (!SCHEMES.includes(scheme)) {
    return fail(`unsupported scheme "${scheme}" (use ${SCHEME_LIST})`);
  }
  const isSentinel = scheme.endsWith("+sentinel");
  const isCluster = scheme.endsWith("+cluster");
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
  let path = slash >= 0 ? rest.slice(slash + 1) : "";

  const defaultPort = isSentinel ? SENTINEL_PORT : REDIS_PORT;
  const hosts = isSentinel || isCluster ? authority.split(",") : [authority];
  const nodes = hosts.map((h) => parseHostPort(h, defaultPort, fail));
  let sentinel: SentinelTarget | undefined;
  if (isSentinel) {
    const [name, ...dbPart] = path.split("/");
    if (!name) return fail("missing master name (…/<master>[/db])");
    if (!/^[A-Za-z0-9._-]{1,128}$/.test(name)) return fail("bad master name");
    sentinel = { nodes, masterName: name };
    path = dbPart.join("/");
  }
  if (isCluster && path !== "") return fail("a cluster has no database number (drop the /…)");
  let db = 0;
  if (path !== "") {
    if (!/^[0-9]{1,9}$/.test(path)) return fail("database must be a number (/0, /1, ...)");
    db = Number(path);
  }
  const { host, port } = nodes[0];
  const tls = scheme.startsWith("rediss");
  const extra = sentinel ? { sentinel } : isCluster ? { cluster: { nodes } } : {};
  return { tls, host, port, db, username, password, redacted, ...extra };
}

function parseHostPort(
  authority: string,
  defaultPort: number,
  fail: (why: string) => never,
): { host: string; port: number } {
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
  let port = defaultPort;
  if (portText !== undefined) {
    port = /^[0-9]{1,5}$/.test(portText) ? Number(portText) : NaN;
    if (!(port >= 1 && port <= 65535)) return fail("port must be 1..65535");
  }
  return { host, port };
}

/** How {@link redisOptions} builds a client. */
export interface RedisClientOptions {
  /** PEM file with the CA(s) that signed the server certificate (rediss:// only). */
  tlsCaFile?: string;
  /** The same CA(s) as PEM text (e.g. from an environment variable); wins over `tlsCaFile`. */
  tlsCaPem?: string;
  /** Password of the sentinels themselves (Sentinel URLs only; `requirepass` in sentinel.conf). */
  sentinelPassword?: string;
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

/** ioredis' Sentinel options: ask `target.nodes` for the master, follow its switches. */
function sentinelOptions(target: SentinelTarget, o: RedisClientOptions): RedisOptions {
  return {
    sentinels: target.nodes.map(({ host, port }) => ({ host, port })),
    name: target.masterName,
    role: "master",
    sentinelPassword: o.sentinelPassword,
    // Sentinel queries get the connect deadline even on the replay client (no command timeout).
    sentinelCommandTimeout: o.commandTimeoutMs ?? o.connectTimeoutMs,
    sentinelRetryStrategy: (attempt: number) => reconnectDelayMs(attempt),
    // Subscribes to +switch-master: a hung old master is left at once, not after a TCP timeout.
    failoverDetector: true,
  };
}

function readCaFile(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (e) {
    const why = (e as { code?: string }).code ?? "unreadable";
    throw new RedisUrlError("tls CA file", `cannot read ${path} (${why})`);
  }
}

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
  if (url.sentinel) Object.assign(result, sentinelOptions(url.sentinel, o));
  if (url.tls) {
    const ca = o.tlsCaPem ?? (o.tlsCaFile ? readCaFile(o.tlsCaFile) : undefined);
    const verify = { rejectUnauthorized: !o.insecureTls, ...(ca ? { ca } : {}) };
    // SNI must be a name, never an IP address (RFC 6066); behind Sentinel the master's address is
    // only known at connect time, where node derives the name from it.
    const sni = !url.sentinel && !isIP(url.host) ? { servername: url.host } : {};
    result.tls = { ...verify, ...sni };
    if (url.sentinel) {
      result.enableTLSForSentinelMode = true;
      result.sentinelTLS = verify;
    }
  }
  return result;
}
