/**
 * Opens the Redis targets the core writes to, with deadlines everywhere and no offline queue,
 * and turns permanent failures (wrong password, untrusted certificate) into one clear error
 * instead of a retry storm.
 */

import type { Config } from "../config.ts";
import { ConfigError } from "../config.ts";
import { createRedis, pingWithin } from "../redis/client.ts";
import { classifyRedisError, describeRedisError } from "../redis/errors.ts";
import { parseRedisUrl, redactUrl } from "../redis/url.ts";
import { TradeWriter } from "../redis/writer.ts";
import type { Redis } from "ioredis";

export type Role = "primary" | "failover";

/** A Redis the core writes to: its client, its writer, and its URL safe to print. */
export interface RedisTarget {
  redis: Redis;
  writer: TradeWriter;
  /** Redacted URL. */
  url: string;
}

/** A lazily connecting client and writer for `url`; nothing is sent until first use. */
export function openTarget(url: string, role: Role, config: Config): RedisTarget {
  const source = role === "primary" ? "--primary" : "--failover";
  // Failures surface through writes and probes, counted and logged once per change there.
  const redis = createRedis(parseRedisUrl(url, source), {
    tlsCaFile: config.tlsCaFile ?? undefined,
    insecureTls: config.tlsInsecure,
    connectTimeoutMs: Math.max(config.deadlineMs, 1_000),
    commandTimeoutMs: config.deadlineMs,
  });
  const writer = new TradeWriter(redis, {
    prefix: config.prefix,
    maxTrades: config.maxTrades,
    legacyKeys: config.legacyKeys,
  });
  return { redis, writer, url: redactUrl(url) };
}

/**
 * Probes a target once. Unreachable is fine (the core fails over); a wrong password or an
 * untrusted certificate is a configuration error.
 * @throws ConfigError on an authentication or TLS failure
 */
export async function checkCredentials(target: RedisTarget, role: Role, timeoutMs: number) {
  try {
    await pingWithin(target.redis, timeoutMs);
    return true;
  } catch (e) {
    const kind = classifyRedisError(e);
    if (kind === "auth" || kind === "tls") {
      const flag = role === "primary" ? "--primary" : "--failover";
      throw new ConfigError(`${flag}: ${describeRedisError(e, target.url)}`);
    }
    return false;
  }
}

/** Disconnects without waiting for replies that may never come. */
export function closeTarget(target: RedisTarget | null): void {
  target?.redis.disconnect(false);
}
