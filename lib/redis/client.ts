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

import { type Cluster, Redis, ReplyError } from "ioredis";
import { DeadlineError, monotonicNow, withDeadline } from "../time.ts";
import { parseRedisUrl, type RedisClientOptions, redisOptions, type RedisUrl } from "./url.ts";

/** {@link RedisClientOptions} plus a listener for the client's `error` events. */
export interface CreateRedisOptions extends Partial<RedisClientOptions> {
  /** Called with each connection error (already reflected in failed commands); must not throw. */
  onError?: (e: Error) => void;
}

/**
 * A lazy ioredis client for `url` (parsed, or text validated with source `url`).
 * @throws RedisUrlError for an invalid URL text or unreadable CA file.
 */
export function createRedis(url: RedisUrl | string, options: CreateRedisOptions = {}): Redis {
  const parsed = typeof url === "string" ? parseRedisUrl(url, "url") : url;
  const { onError, ...clientOptions } = options;
  const redis = new Redis(redisOptions(parsed, clientOptions));
  redis.on("error", (e: Error) => {
    try {
      onError?.(e);
    } catch { /* a listener must not break the client */ }
  });
  return redis;
}

/** Error of a PING that missed its deadline (a {@link DeadlineError}, so classified transient). */
/**
 * Connects `redis` when it is idle: a lazy client that never connected, or one that gave up
 * reconnecting (a Sentinel client whose sentinels did not answer in time ends). Without an
 * offline queue, either would reject every command. A no-op while connecting or connected.
 */
export async function connectIfIdle(redis: Redis | Cluster): Promise<void> {
  if (isIdle(redis)) await redis.connect();
}

function isIdle(redis: Redis | Cluster): boolean {
  return redis.status === "wait" || redis.status === "end";
}

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
export function pingWithin(redis: Redis, ms: number): Promise<number> {
  return commandWithin(redis, ms, "PING", () => redis.ping(), () => new PingTimeoutError(ms));
}

/**
 * Connects if needed and runs `send`; resolves with the round-trip time in ms (connect included
 * when the client was not connected). A failed connect rejects with its reason, not ioredis's
 * bare "Connection is closed.".
 * @throws DeadlineError (or `timeoutError()`) after `ms`, or the connection/command error.
 */
export async function commandWithin(
  redis: Redis,
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

function waitReady(redis: Redis): { ready: Promise<void>; cancel: () => void } {
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
