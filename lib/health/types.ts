/**
 * The shapes of a health check: what goes in ({@link HealthInput}: observations only, no I/O),
 * and what comes out ({@link HealthReport}: an `application/health+json` document, a Nagios
 * status line and a table, with the monitoring-plugin exit code).
 */

import type { Mode } from "../domain.ts";
import type { StreamStatus } from "../runtime/status.ts";

/** `pass`/`warn`/`fail` as in draft-inadarei-api-health-check. */
export type HealthStatus = "pass" | "warn" | "fail";

/** Monitoring-plugin exit codes: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN. */
export type HealthExitCode = 0 | 1 | 2 | 3;

/** One direct probe of a Redis target (PING with a short deadline). */
export interface ProbeResult {
  ok: boolean;
  /** Round trip of the probe in ms; null when it failed. */
  latencyMs: number | null;
  /** Why it failed, already free of secrets; null when ok. */
  error: string | null;
  /** The target's URL with any password redacted. */
  url?: string | null;
}

/** How old a market's latest trade is, and where that was read. */
export interface MarketAge {
  /** Seconds since the latest trade's exchange time; null when there is none. */
  ageSeconds: number | null;
  source: "primary" | "failover" | "status";
}

/** What the outbox holds; read from the outbox itself or from the stream's status. */
export interface OutboxSummary {
  depth: number;
  bytes: number;
  maxTrades: number;
  full: boolean;
  /** Rows set aside because they could not be applied (each one was logged). */
  deadLetters: number;
  /** Last disk error (for example a full disk); null when writes succeed. */
  error: string | null;
}

/** Everything {@link report} looks at. Gathered by the CLI (or the stream), never by `report`. */
export interface HealthInput {
  /** The stream's last published status; null when there is none (never ran, file missing). */
  status: StreamStatus | null;
  /** Where the status was looked for, for messages ("no status in /var/lib/btcfeed"). */
  dataDir: string;
  nowMs: number;
  probes: {
    primary: ProbeResult;
    /** null when no failover Redis is configured. */
    failover: ProbeResult | null;
  };
  /** Per market: the age of its latest trade. Markets only in the status are added from it. */
  marketAges: Record<string, MarketAge>;
  /** null: take the stream's view (`status.outbox`) with no dead-letter count. */
  outbox: OutboxSummary | null;
  /** A market whose latest trade is older than this is stale (warn). @default 60 */
  maxAgeSeconds: number;
  /** A heartbeat older than this means the stream is not running (fail). @default 10 */
  heartbeatMaxAgeSeconds: number;
  /** Printed in the document. @default undefined (omitted) */
  version?: string;
  /**
   * The stream lock, tried without waiting: `free` means no stream runs, whatever the status
   * says; `absent` (no lock file) leaves it to the heartbeat. @default "absent"
   */
  lock?: "held" | "free" | "absent";
  /** Times (ms) the stream started within the restart window. @default [] */
  recentStarts?: number[];
  /** Store files moved aside as corrupt, not yet salvaged. @default [] */
  storeSetAside?: string[];
}

/**
 * Starts of `stream` within the restart window (10 minutes) from which the restart check turns
 * warn and fail: a crash loop.
 */
export const RESTART_THRESHOLDS = { warn: 3, fail: 6 } as const;

/** Defaults of the health check, each defined once. */
export const DEFAULT_HEALTH_OPTIONS = {
  maxAgeSeconds: 60,
  heartbeatMaxAgeSeconds: 10,
  /** Deadline of each direct Redis probe and read in `btcfeed health`. */
  probeTimeoutMs: 400,
} as const;

/** One observation in a health+json document's `checks`. */
export interface HealthCheck {
  componentType: "component" | "datastore" | "system";
  /** Which instance (a redacted URL, a market); omitted when there is only one. */
  componentId?: string;
  observedValue: number | string | boolean | null;
  observedUnit?: string;
  status: HealthStatus;
  /** ISO 8601 time of the observation. */
  time: string;
  output: string;
}

/** The `application/health+json` document (`btcfeed health --json`, `GET /health`). */
export interface HealthDocument {
  status: HealthStatus;
  version?: string;
  description: string;
  /** Why the status is not `pass`: the failing and warning checks' outputs. Omitted on pass. */
  output?: string;
  /** The stream's mode, null when no running stream reported one. */
  mode: Mode | null;
  forced: boolean | null;
  /** Seconds since the stream's last heartbeat; null when there is none. */
  heartbeatAge: number | null;
  time: string;
  /** Keyed `<component>:<measurement>`, e.g. `redis-primary:responseTime`. */
  checks: Record<string, HealthCheck[]>;
}

/** A finished health check in every output form. */
export interface HealthReport {
  status: HealthStatus;
  /** 0 pass, 1 warn, 2 fail, 3 the check itself could not run (document status is `fail`). */
  exitCode: HealthExitCode;
  document: HealthDocument;
  /** First line `BTCFEED OK - ...` with `| perfdata`, at most {@link NAGIOS_MAX_BYTES} bytes. */
  nagios: string;
  /** Human-readable table of the checks. */
  table: string;
}

/** Monitoring plugins read only the first 4 KB of output. */
export const NAGIOS_MAX_BYTES = 4000;
