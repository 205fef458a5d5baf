/**
 * Opens the Redis targets the core writes to, with deadlines everywhere and no offline queue,
 * and tells permanent failures (wrong password, untrusted certificate, an ACL lacking a command)
 * apart as an outcome the CLI reports as a configuration error, instead of a retry storm.
 *
 * Each target has two lazy connections: the live one, whose every command is capped by the live
 * write deadline (`deadlineMs`), and the replay one, with no command timeout, so a replay
 * pipeline is bounded only by the replayer's own deadline, sized by its bytes (a 500 ms cap
 * would fail every large pipeline on a slow link, forever). The replay connection opens only
 * when something replays.
 */

import { createClient } from "../redis/client.ts";
import { classifyRedisError, describeRedisError } from "../redis/errors.ts";
import { parseRedisUrl, redactUrl, type RedisClientOptions } from "../redis/url.ts";
import {
  describeSentinelRefusal,
  probeSentinels,
  type SentinelProbe,
} from "../redis/sentinel_probe.ts";
import { type EpochSource, TradeWriter } from "../redis/writer.ts";
import { WriteProbe } from "../redis/write_probe.ts";
import { REPLAY_CHUNK_SIZE } from "../defaults.ts";
import { confirmReplicas } from "./replicas.ts";
import type { RedisClient } from "../redis/client.ts";

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

/** A Redis the core writes to: its clients, writers, write probe, and its URL safe to print. */
export interface RedisTarget {
  /** The live connection: every command capped by the live write deadline. */
  redis: RedisClient;
  writer: TradeWriter;
  /** Asks, with a write, whether the target takes btcfeed's writes (on the live connection). */
  probe: WriteProbe;
  /** The replay connection: no command timeout; the replayer's deadline bounds it. */
  replayRedis: RedisClient;
  /** Writes on the replay connection. */
  replayWriter: TradeWriter;
  /** Redacted URL. */
  url: string;
  /** Asks a Sentinel URL's sentinels themselves (`{ ok: true }` for any other URL). */
  probeSentinels(ms: number): Promise<SentinelProbe>;
}

/**
 * A lazy client for `url` with the target options, every command capped at `commandTimeoutMs`
 * (null: no cap). Failures surface through commands, counted and logged by their callers.
 */
export function openClient(
  url: string,
  role: Role,
  config: TargetOptions,
  commandTimeoutMs: number | null,
  connectionName: string,
): RedisClient {
  return createClient(parseRedisUrl(url, roleFlag(role)), {
    ...clientOptions(config),
    commandTimeoutMs,
    connectionName,
  });
}

function clientOptions(config: TargetOptions): Partial<RedisClientOptions> {
  return {
    tlsCaFile: config.tlsCaFile ?? undefined,
    tlsCaPem: config.tlsCaPem ?? undefined,
    insecureTls: config.tlsInsecure,
    sentinelPassword: config.sentinelPassword ?? undefined,
    connectTimeoutMs: Math.max(config.deadlineMs, 1_000),
  };
}

/**
 * Lazily connecting clients and writers for `url`; nothing is sent until first use. With
 * `epoch` (a feeder group), every trade write is fenced with it.
 */
export function openTarget(
  url: string,
  role: Role,
  config: TargetOptions,
  epoch?: EpochSource,
): RedisTarget {
  const client = (commandTimeoutMs: number | null, connectionName: string) =>
    openClient(url, role, config, commandTimeoutMs, connectionName);
  const writerOptions = {
    prefix: config.prefix,
    maxTrades: config.maxTrades,
    legacyKeys: config.legacyKeys,
  };
  const redis = client(config.deadlineMs, "btcfeed");
  const replayRedis = client(null, "btcfeed-replay");
  return {
    redis,
    writer: new TradeWriter(redis, writerOptions, epoch),
    probe: new WriteProbe(redis, writerOptions),
    replayRedis,
    replayWriter: new TradeWriter(
      replayRedis,
      { ...writerOptions, chunkSize: REPLAY_CHUNK_SIZE },
      epoch,
    ),
    url: redactUrl(url),
    probeSentinels: (ms) =>
      probeSentinels(parseRedisUrl(url, roleFlag(role)), clientOptions(config), ms),
  };
}

/**
 * `WAIT` for `--primary-replicas` after a replayed batch, on the replay connection: `WAIT` covers
 * only its own connection's writes, so asking on the live one would confirm nothing replayed.
 * @throws ReplicaShortfall when fewer than `wanted` replicas confirmed within `timeoutMs`
 */
export function confirmReplayed(
  target: RedisTarget,
  wanted: number,
  timeoutMs: number,
): Promise<void> {
  return confirmReplicas(target.replayRedis, wanted, timeoutMs);
}

/**
 * Probes a target once: a Sentinel URL's sentinels first, then the write probe. Unreachable or
 * refusing writes is fine (the core fails over); a wrong password, an untrusted certificate or
 * an ACL that lacks a command the write path needs (NOPERM), at a sentinel (the sentinels' own
 * password) or at the data node, is `{ ok: false }`, a configuration error for the caller.
 */
export async function checkCredentials(
  target: RedisTarget,
  role: Role,
  timeoutMs: number,
): Promise<CredentialCheck> {
  const flag = roleFlag(role);
  const sentinels = await target.probeSentinels(timeoutMs);
  if (!sentinels.ok) {
    return {
      ok: false,
      flag,
      message: `${flag}: ${describeSentinelRefusal(sentinels, target.url)}`,
    };
  }
  try {
    await target.probe.within(timeoutMs);
    return { ok: true, reachable: true };
  } catch (e) {
    const kind = classifyRedisError(e);
    if (kind !== "auth" && kind !== "tls") return { ok: true, reachable: false };
    return { ok: false, flag, message: `${flag}: ${describeRedisError(e, target.url)}` };
  }
}

/** Disconnects without waiting for replies that may never come. */
export function closeTarget(target: RedisTarget | null): void {
  target?.redis.disconnect(false);
  target?.replayRedis.disconnect(false);
}
