/**
 * Health input from the stream's own status, for `GET /health` served by `stream`: no probes of
 * its own (the failover core probes continuously), no Redis reads (the stream knows each
 * market's last applied trade). The verdict is the same `report` as `btcfeed health`.
 */

import type { RedisTargetStatus, StreamStatus } from "../runtime/status.ts";
import {
  DEFAULT_HEALTH_OPTIONS,
  type HealthInput,
  type MarketAge,
  type ProbeResult,
} from "./types.ts";

/** Options of {@link inputFromStatus}. */
export interface StatusHealthOptions {
  /** @default 60 */
  maxAgeSeconds: number;
  /** @default 10 */
  heartbeatMaxAgeSeconds: number;
  /** Outbox rows set aside as unappliable, when the caller can count them. @default 0 */
  deadLetters: number;
  /** @default undefined */
  version?: string;
  /** Shown in messages. @default "" */
  dataDir: string;
}

/** Builds a {@link HealthInput} from the stream's in-memory status. */
export function inputFromStatus(
  status: StreamStatus,
  nowMs: number,
  options: Partial<StatusHealthOptions> = {},
): HealthInput {
  const marketAges: Record<string, MarketAge> = {};
  for (const [market, m] of Object.entries(status.markets)) {
    marketAges[market] = {
      ageSeconds: m.last ? Math.max(0, nowMs - m.last.ts) / 1000 : null,
      source: "status",
    };
  }
  return {
    status,
    dataDir: options.dataDir ?? "",
    nowMs,
    probes: {
      primary: probeOf(status.primary),
      failover: status.failover.url === null ? null : probeOf(status.failover),
    },
    marketAges,
    outbox: {
      depth: status.outbox.depth,
      bytes: status.outbox.bytes,
      maxTrades: status.outbox.maxTrades,
      full: status.outbox.full,
      deadLetters: options.deadLetters ?? 0,
      error: status.outbox.lastError,
    },
    maxAgeSeconds: options.maxAgeSeconds ?? DEFAULT_HEALTH_OPTIONS.maxAgeSeconds,
    heartbeatMaxAgeSeconds: options.heartbeatMaxAgeSeconds ??
      DEFAULT_HEALTH_OPTIONS.heartbeatMaxAgeSeconds,
    ...(options.version ? { version: options.version } : {}),
    lock: status.stopped ? "free" : "held", // the stream serving this holds it until it stops
    recentStarts: status.starts ?? [],
    storeSetAside: status.storeSetAside ?? [],
  };
}

function probeOf(t: RedisTargetStatus): ProbeResult {
  return {
    ok: t.healthy,
    latencyMs: t.healthy ? t.latencyMs : null,
    error: t.healthy ? null : (t.lastError ?? "unhealthy"),
    url: t.url,
  };
}
