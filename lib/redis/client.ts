/**
 * Creating Redis clients and timing a PING or any other command.
 *
 * Guarantees: clients are lazy (no socket until `connect()` or {@link pingWithin}), fail fast
 * (see `redisOptions`), and never print "Unhandled error event": connection errors surface as
 * rejected commands and through the optional `onError` callback.
 *
 * ioredis rejects a failed connect with a bare "Connection is closed." and reports the reason
 * (ECONNREFUSED, WRONGPASS, a certificate error) only as an `error` event; {@link pingWithin}
 * rejects with that reason instead, so `classifyRedisError` can tell auth and TLS from outages.
 */

import { Cluster, Redis, ReplyError } from "ioredis";
import { DeadlineError, monotonicNow, withDeadline } from "../time.ts";
import { parseRedisUrl, type RedisClientOptions, redisOptions, type RedisUrl } from "./url.ts";
import { clusterOptions } from "./cluster_options.ts";

/** A client of a standalone or Sentinel primary (`Redis`) or of a Redis Cluster (`Cluster`). */
export type RedisClient = Redis | Cluster;

/** {@link RedisClientOptions} plus a listener for the client's `error` events. */
export interface CreateRedisOptions extends Partial<RedisClientOptions> {
  /** Called with each connection error (already reflected in failed commands); must not throw. */
  onError?: (e: Error) => void;
  /** One shot (health): never reconnect, close sockets fast. @default false */
  oneShot?: boolean;
}

/**
 * A lazy ioredis client for `url` (parsed, or text validated with source `url`): ioredis' own
 * Cluster client for a `redis+cluster://` URL, else a Redis client (Sentinel-aware).
 * @throws RedisUrlError for an invalid URL text or unreadable CA file.
 */
export function createClient(
  url: RedisUrl | string,
  options: CreateRedisOptions = {},
): RedisClient {
  const parsed = typeof url === "string" ? parseRedisUrl(url, "url") : url;
  if (!parsed.cluster) return createRedis(parsed, options);
  const { onError, oneShot, ...clientOptions } = options;
  const c = clusterOptions(parsed, clientOptions);
  if (oneShot) c.options.clusterRetryStrategy = () => null;
  return listened(new Cluster(c.nodes, c.options), onError);
}

/**
 * A lazy ioredis client for a standalone or Sentinel `url` (see {@link createClient}).
 * @throws RedisUrlError for an invalid URL text or unreadable CA file.
 * @throws TypeError for a Cluster URL.
 */
export function createRedis(url: RedisUrl | string, options: CreateRedisOptions = {}): Redis {
  const parsed = typeof url === "string" ? parseRedisUrl(url, "url") : url;
  if (parsed.cluster) throw new TypeError("a cluster URL needs createClient");
  const { onError, oneShot, ...clientOptions } = options;
  const o = redisOptions(parsed, clientOptions);
  const redis = new Redis(oneShot ? { ...o, retryStrategy: () => null, disconnectTimeout: 50 } : o);
  return listened(redis, onError);
}

/** `redis` with `onError` called for each `error` event (and no unhandled-error print). */
function listened<T extends RedisClient>(redis: T, onError?: (e: Error) => void): T {
  redis.on("error", (e: Error) => {
    try {
      onError?.(e);
    } catch { /* a listener must not break the client */ }
  });
  return redis;
}

/** Connections started by {@link connectIfIdle} and not yet settled, per client. */
const connecting = new WeakMap<RedisClient, Promise<void>>();

/**
 * Connects `redis` when it is idle: a lazy client that never connected, or one that gave up
 * reconnecting (a Sentinel client whose sentinels did not answer in time ends). Without an
 * offline queue, either would reject every command. A call while a connect this function started
 * is under way waits for it (two writes sent at once both go out once connected); a no-op while
 * connected or reconnecting on its own.
 */
export async function connectIfIdle(redis: RedisClient): Promise<void> {
  let pending = connecting.get(redis);
  if (!pending && isIdle(redis)) {
    pending = redis.connect().finally(() => connecting.delete(redis));
    connecting.set(redis, pending);
  }
  await pending;
}

function isIdle(redis: RedisClient): boolean {
  return redis.status === "wait" || redis.status === "end";
}

/** Error of a PING that missed its deadline (a {@link DeadlineError}, so classified transient). */
export class PingTimeoutError extends DeadlineError {
  override name = "PingTimeoutError";
  constructor(ms: number) {
    super("PING", ms);
  }
}

/**
 * Connects if needed and PINGs; resolves with the round-trip time in ms (connect included when
 * the client was not connected).
 * @throws PingTimeoutError after `ms`, or the connection/command error.
 */
export function pingWithin(redis: RedisClient, ms: number): Promise<number> {
  return commandWithin(redis, ms, "PING", () => redis.ping(), () => new PingTimeoutError(ms));
}

/**
 * Connects if needed and runs `send`; resolves with the round-trip time in ms (connect included
 * when the client was not connected). A failed connect rejects with its reason, not ioredis's
 * bare "Connection is closed.".
 * @throws DeadlineError (or `timeoutError()`) after `ms`, or the connection/command error.
 */
export async function commandWithin(
  redis: RedisClient,
  ms: number,
  label: string,
  send: () => Promise<unknown>,
  timeoutError?: () => Error,
): Promise<number> {
  const start = monotonicNow();
  let cancelWait = () => {};
  let reason: Error | undefined;
  const onError = (e: Error) => {
    reason ??= e;
  };
  redis.on("error", onError);
  const attempt = (async () => {
    if (isIdle(redis)) await redis.connect();
    else if (redis.status !== "ready") {
      const wait = waitReady(redis);
      cancelWait = wait.cancel;
      await wait.ready;
    }
    await send();
  })().catch((e) => {
    // An error reply is the server's answer; a connection reason explains a failed connect.
    throw e instanceof ReplyError ? e : reason ?? e;
  });
  try {
    await withDeadline(attempt, ms, label, timeoutError);
    return monotonicNow() - start;
  } finally {
    cancelWait();
    redis.off("error", onError);
  }
}

function waitReady(redis: RedisClient): { ready: Promise<void>; cancel: () => void } {
  let cancel = () => {};
  const ready = new Promise<void>((resolve, reject) => {
    const done = (e?: Error) => {
      cancel();
      if (e) reject(e);
      else resolve();
    };
    const onReady = () => done();
    const onError = (e: Error) => done(e);
    const onEnd = () => done(new Error("Connection is closed."));
    cancel = () => {
      redis.off("ready", onReady);
      redis.off("error", onError);
      redis.off("end", onEnd);
    };
    redis.on("ready", onReady);
    redis.on("error", onError);
    redis.on("end", onEnd);
  });
  return { ready, cancel };
}
