/**
 * Opens the Redis targets the core writes to, with deadlines everywhere and no offline queue,
 * and tells permanent failures (wrong password, untrusted certificate) apart as an outcome the
 * CLI reports as a configuration error, instead of a retry storm.
 */

import { createRedis, pingWithin } from "../redis/client.ts";
import { classifyRedisError, describeRedisError } from "../redis/errors.ts";
import { parseRedisUrl, redactUrl } from "../redis/url.ts";
import { TradeWriter } from "../redis/writer.ts";
import type { Redis } from "ioredis";

export type Role = "primary" | "failover";

/** What a target is opened with (a resolved `Config` satisfies it). */
export interface TargetOptions {
  tlsCaFile: string | null;
  tlsCaPem: string | null;
  tlsInsecure: boolean;
  sentinelPassword: string | null;
  /** Command deadline; the connect timeout is at least 1 s. */
  deadlineMs: number;
  prefix: string;
  maxTrades: number;
  legacyKeys: boolean;
}

/** The flag a role's URL comes from, for messages. */
export function roleFlag(role: Role): "--primary" | "--failover" {
  return role === "primary" ? "--primary" : "--failover";
}

/**
 * Outcome of {@link checkCredentials}: reachable or not (both fine: the core fails over), or
 * `refused` for good, with a one-line message naming the flag to fix.
 */
export type CredentialCheck =
  | { ok: true; reachable: boolean }
  | { ok: false; flag: "--primary" | "--failover"; message: string };

/** A Redis the core writes to: its client, its writer, and its URL safe to print. */
export interface RedisTarget {
  redis: Redis;
  writer: TradeWriter;
  /** Redacted URL. */
  url: string;
}

/** A lazily connecting client and writer for `url`; nothing is sent until first use. */
export function openTarget(url: string, role: Role, config: TargetOptions): RedisTarget {
  const source = roleFlag(role);
  // Failures surface through writes and probes, counted and logged once per change there.
  const redis = createRedis(parseRedisUrl(url, source), {
    tlsCaFile: config.tlsCaFile ?? undefined,
    tlsCaPem: config.tlsCaPem ?? undefined,
    insecureTls: config.tlsInsecure,
    sentinelPassword: config.sentinelPassword ?? undefined,
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
 * untrusted certificate is `{ ok: false }`, a configuration error for the caller to report.
 */
export async function checkCredentials(
  target: RedisTarget,
  role: Role,
  timeoutMs: number,
): Promise<CredentialCheck> {
  try {
    await pingWithin(target.redis, timeoutMs);
    return { ok: true, reachable: true };
  } catch (e) {
    const kind = classifyRedisError(e);
    if (kind !== "auth" && kind !== "tls") return { ok: true, reachable: false };
    const flag = roleFlag(role);
    return { ok: false, flag, message: `${flag}: ${describeRedisError(e, target.url)}` };
  }
}

/** Disconnects without waiting for replies that may never come. */
export function closeTarget(target: RedisTarget | null): void {
  target?.redis.disconnect(false);
}
