/**
 * Gathers what `btcfeed health` judges: the stream's status file, a direct PING of each Redis,
 * each market's latest trade time in Redis, and the outbox's depth and dead letters.
 *
 * Guarantees:
 * - Bounded: every Redis step has a deadline (`probeTimeoutMs`, default 400 ms), both targets
 *   are probed at once, and clients are disconnected without waiting — a hung Redis (socket
 *   open, no answer) costs at most about two deadlines.
 * - Nothing is written to Redis, and nothing is created in the data directory (the outbox is
 *   opened only when its file already exists; the stream lock is tried, without waiting, on the
 *   lock file only when it exists, and released at once). Opening it is not read-only, though: the schema
 *   check runs in a `BEGIN IMMEDIATE` transaction, so health briefly takes the write lock (and
 *   waits at most 250 ms for it; a running stream holding it makes health use the stream's view).
 * - {@link HealthUnavailableError} when the check itself cannot run (status file unreadable or
 *   not JSON, data directory not a directory): the CLI turns it into UNKNOWN (exit 3).
 */

import { join } from "node:path";
import type { Config } from "../config.ts";
import { readStatus, STATUS_FILE, type StreamStatus } from "../runtime/status.ts";
import { Journal, STORE_FILE } from "../store/journal.ts";
import { corruptStoreFiles } from "../store/salvage.ts";
import { streamLockState } from "../runtime/stream_lock.ts";
import { readStarts, recentStarts } from "../runtime/start_history.ts";
import { createClient, pingWithin, type RedisClient } from "../redis/client.ts";
import { describeSentinelRefusal, probeSentinels } from "../redis/sentinel_probe.ts";
import { withDeadline } from "../time.ts";
import { describeRedisError } from "../redis/errors.ts";
import { marketKeys } from "../redis/keys.ts";
import { parseRedisUrl, redactUrl } from "../redis/url.ts";
import type { HealthInput, MarketAge, OutboxSummary, ProbeResult } from "./types.ts";
import { DEFAULT_HEALTH_OPTIONS } from "./types.ts";
import { VERSION } from "../version.ts";
import { errorText } from "../redact.ts";

/** The health check itself could not run (exit 3, UNKNOWN). */
export class HealthUnavailableError extends Error {
  override name = "HealthUnavailableError";
}

/** Options of {@link gatherHealthInput}. */
export interface GatherOptions {
  /** @default 60 */
  maxAgeSeconds: number;
  /** Deadline of each Redis step. @default 400 */
  probeTimeoutMs: number;
  /** @default 10 */
  heartbeatMaxAgeSeconds: number;
}

interface Probed {
  role: "primary" | "failover";
  probe: ProbeResult;
  redis: RedisClient;
}

/**
 * Reads the status, probes both Redis targets, reads market ages and the outbox.
 * @throws HealthUnavailableError when the data directory or status file cannot be read
 */
export async function gatherHealthInput(
  config: Config,
  options: Partial<GatherOptions> = {},
): Promise<HealthInput> {
  const o = { ...DEFAULT_HEALTH_OPTIONS, ...options };
  const status = loadStatus(config.dataDir);
  const [primary, failover] = await Promise.all([
    probe("primary", config.primaryUrl, config, o.probeTimeoutMs),
    config.failoverUrl ? probe("failover", config.failoverUrl, config, o.probeTimeoutMs) : null,
  ]);
  try {
    const markets = status ? Object.keys(status.markets) : config.markets.map((m) => m.market);
    const reachable = [primary, failover].filter((t): t is Probed => !!t && t.probe.ok);
    const ages = await readAges(reachable, config.prefix, markets, o.probeTimeoutMs);
    return {
      status,
      dataDir: config.dataDir,
      nowMs: Date.now(),
      probes: { primary: primary.probe, failover: failover?.probe ?? null },
      marketAges: ages,
      outbox: readOutbox(
        config,
        status,
        status !== null && Date.now() - status.heartbeatAt <= o.heartbeatMaxAgeSeconds * 1000,
      ),
      maxAgeSeconds: o.maxAgeSeconds,
      heartbeatMaxAgeSeconds: o.heartbeatMaxAgeSeconds,
      version: VERSION,
      lock: streamLockState(config.dataDir),
      recentStarts: recentStarts(readStarts(config.dataDir), Date.now()),
      storeSetAside: corruptStoreFiles(config.dataDir),
    };
  } finally {
    primary.redis.disconnect(false);
    failover?.redis.disconnect(false);
  }
}

function loadStatus(dataDir: string): StreamStatus | null {
  try {
    const status = readStatus(dataDir);
    if (status !== null && !looksLikeStatus(status)) {
      throw new Error("not a btcfeed status record");
    }
    return status;
  } catch (e) {
    const why = errorText(e);
    throw new HealthUnavailableError(`cannot read ${join(dataDir, STATUS_FILE)}: ${why}`);
  }
}

/** The fields `report` relies on are there with the right types. */
function looksLikeStatus(s: unknown): s is StreamStatus {
  const o = s as Record<string, unknown> | null;
  const isObject = (v: unknown) => typeof v === "object" && v !== null && !Array.isArray(v);
  return isObject(o) && typeof o!.heartbeatAt === "number" && typeof o!.mode === "string" &&
    ["markets", "counters", "outbox", "primary", "failover"].every((k) => isObject(o![k])) &&
    Object.values(o!.markets as object).every(isObject) &&
    Array.isArray(o!.transitions);
}

async function probe(
  role: "primary" | "failover",
  url: string,
  config: Config,
  timeoutMs: number,
): Promise<Probed> {
  const redacted = redactUrl(url);
  const parsed = parseRedisUrl(url, `--${role}`);
  const options = {
    tlsCaFile: config.tlsCaFile ?? undefined,
    tlsCaPem: config.tlsCaPem ?? undefined,
    insecureTls: config.tlsInsecure,
    sentinelPassword: config.sentinelPassword ?? undefined,
    connectTimeoutMs: timeoutMs,
    commandTimeoutMs: timeoutMs,
    connectionName: "btcfeed-health",
  };
  // One shot: never reconnect, and do not wait ioredis's default 2 s for a socket that is
  // already closed (or hung) to close again before the process may exit. Failures are reported
  // through the probe's result.
  const redis = createClient(parsed, { ...options, oneShot: true });
  try {
    const latencyMs = await pingWithin(redis, timeoutMs);
    return { role, redis, probe: { ok: true, latencyMs, error: null, url: redacted } };
  } catch (e) {
    // ioredis reports sentinels that refuse the password or certificate only as unreachable.
    const sentinels = await probeSentinels(parsed, options, timeoutMs);
    const error = sentinels.ok
      ? describeRedisError(e, redacted)
      : describeSentinelRefusal(sentinels, redacted);
    return { role, redis, probe: { ok: false, latencyMs: null, error, url: redacted } };
  }
}

/** Per market, the freshest latest-trade time found on any reachable target. */
async function readAges(
  targets: Probed[],
  prefix: string,
  markets: string[],
  timeoutMs: number,
): Promise<Record<string, MarketAge>> {
  const ages: Record<string, MarketAge> = {};
  const reads = targets.map(async (t) => {
    // One command per market, not one pipeline: on a cluster the markets are in different slots.
    const read = (m: string) =>
      t.redis.hmget(marketKeys(prefix, m).last, "ts", "received_at").then(
        (v): [Error | null, unknown] => [null, v],
        (e): [Error | null, unknown] => [e, null],
      );
    const replies = await withDeadline(Promise.all(markets.map(read)), timeoutMs, "market read")
      .catch(() => null);
    return { t, replies };
  });
  const now = Date.now();
  for (const { t, replies } of await Promise.all(reads)) {
    if (!replies) continue;
    markets.forEach((market, i) => {
      const [err, value] = replies[i] ?? [new Error("no reply"), null];
      if (err) return;
      const [ts, receivedAt] = (value as (string | null)[]) ?? [];
      const when = Number(ts ?? receivedAt ?? NaN);
      const age = Number.isFinite(when) ? Math.max(0, now - when) / 1000 : null;
      const prev = ages[market];
      if (!prev || (age !== null && (prev.ageSeconds === null || age < prev.ageSeconds))) {
        ages[market] = { ageSeconds: age, source: t.role };
      }
    });
  }
  return ages;
}

/** The outbox as its own file says (when it exists), completed by the stream's view. */
function readOutbox(
  config: Config,
  status: StreamStatus | null,
  streamRunning: boolean,
): OutboxSummary | null {
  const fromStatus = status?.outbox;
  const base: OutboxSummary = {
    depth: fromStatus?.depth ?? 0,
    bytes: fromStatus?.bytes ?? 0,
    maxTrades: fromStatus?.maxTrades ?? config.outboxMax,
    full: fromStatus?.full ?? false,
    deadLetters: 0,
    error: fromStatus?.lastError ?? null,
  };
  try {
    Deno.statSync(join(config.dataDir, STORE_FILE));
  } catch {
    return base; // no outbox file: nothing was ever kept (and health must not create one)
  }
  let outbox: Journal | null = null;
  try {
    outbox = Journal.open(config.dataDir, { maxTrades: base.maxTrades, busyTimeoutMs: 250 });
    const depth = outbox.depth();
    return {
      ...base,
      depth,
      bytes: outbox.bytes(),
      full: base.full || depth >= base.maxTrades,
      deadLetters: outbox.deadLetterCount(),
    };
  } catch (e) {
    // A running stream reports its own outbox errors, and may just hold the write lock now:
    // its view (above) is current enough. Without one, an unreadable outbox is an error.
    if (streamRunning) return base;
    const why = errorText(e);
    return { ...base, error: base.error ?? `cannot read the outbox: ${why}` };
  } finally {
    outbox?.close();
  }
}
