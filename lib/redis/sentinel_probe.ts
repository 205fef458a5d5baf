/**
 * Asks the sentinels of a Sentinel URL directly, once, whether they will name the master.
 *
 * ioredis' Sentinel client retries sentinels that refuse its password or certificate as if they
 * were down and reports only "All sentinels are unreachable", after the caller's deadline has
 * passed; a missing BTCFEED_SENTINEL_PASSWORD then looks like an outage forever. This probe uses
 * the same sentinel settings (password, TLS) on short-lived clients of its own, so a refusal is
 * seen as one.
 *
 * Guarantees:
 * - {@link probeSentinels} never throws and never waits longer than its `ms` (all sentinels are
 *   asked in parallel); every client it opened is disconnected before it resolves.
 * - The outcome is `refused` only when no sentinel named the master and at least one refused
 *   the password (`auth`) or the certificate (`tls`); anything else (an answer, silence, refused
 *   connections) is `ok`, for the caller's usual outage handling.
 * - {@link describeSentinelRefusal} is one line that names BTCFEED_SENTINEL_PASSWORD for a
 *   password refusal and never contains a password.
 */

import { Redis } from "ioredis";
import { commandWithin } from "./client.ts";
import { classifyRedisError, describeRedisError } from "./errors.ts";
import {
  type RedisClientOptions,
  redisOptions,
  type RedisUrl,
  SENTINEL_PASSWORD_ENV,
} from "./url.ts";

/** What the sentinels said: fine (or silent), or a refusal of the password or certificate. */
export type SentinelProbe =
  | { ok: true }
  | { ok: false; kind: "auth" | "tls"; sentinel: string; error: unknown; passwordSet: boolean };

/**
 * Asks every sentinel of `url` for its master's address within `ms`.
 * @param url a parsed Sentinel URL (`url.sentinel` set); any other URL is `{ ok: true }`.
 */
export async function probeSentinels(
  url: RedisUrl,
  options: Partial<RedisClientOptions>,
  ms: number,
): Promise<SentinelProbe> {
  if (!url.sentinel) return { ok: true };
  const base = redisOptions(url, options);
  const { masterName } = url.sentinel;
  const asks = url.sentinel.nodes.map(async ({ host, port }) => {
    const redis = new Redis({
      host,
      port,
      password: base.sentinelPassword ?? undefined,
      tls: base.sentinelTLS,
      connectTimeout: ms,
      commandTimeout: ms,
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
      disconnectTimeout: 50,
    });
    redis.on("error", () => {}); // the reason comes back through commandWithin
    try {
      const send = () => redis.call("SENTINEL", "get-master-addr-by-name", masterName);
      await commandWithin(redis, ms, "SENTINEL", send);
      return { sentinel: `${host}:${port}`, error: null };
    } catch (error) {
      return { sentinel: `${host}:${port}`, error };
    } finally {
      redis.disconnect(false);
    }
  });
  const answers = await Promise.all(asks);
  if (answers.some((a) => a.error === null)) return { ok: true };
  for (const kind of ["auth", "tls"] as const) {
    const refusal = answers.find((a) => classifyRedisError(a.error) === kind);
    if (refusal) {
      const passwordSet = !!options.sentinelPassword;
      return { ok: false, kind, sentinel: refusal.sentinel, error: refusal.error, passwordSet };
    }
  }
  return { ok: true };
}

/**
 * One line for a refusal, e.g. `sentinel 10.0.0.5:26379 of redis+sentinel://…/m: authentication
 * required (NOAUTH): set BTCFEED_SENTINEL_PASSWORD to the sentinels' password`.
 */
export function describeSentinelRefusal(
  refusal: Extract<SentinelProbe, { ok: false }>,
  redactedUrl: string,
): string {
  const where = `sentinel ${refusal.sentinel} of ${redactedUrl}`;
  if (refusal.kind === "tls") return describeRedisError(refusal.error, where);
  return refusal.passwordSet
    ? `${where}: authentication failed: ${SENTINEL_PASSWORD_ENV} is not the sentinels' password`
    : `${where}: authentication required: set ${SENTINEL_PASSWORD_ENV} to the sentinels' password`;
}
