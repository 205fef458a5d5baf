/**
 * The health verdict: a pure function from observations to a report, so every status and exit
 * path is unit-tested without a Redis or a stream.
 *
 * Semantics (the contract in README.md, "Health output"):
 * - `fail` (exit 2): no status from a stream, its heartbeat older than `heartbeatMaxAgeSeconds`,
 *   the outbox at its limit or reporting a disk error (trades are being dropped
 *   then, whether or not a Redis is reachable — the contract's "no Redis reachable and outbox
 *   over its limit" is the common case of this).
 * - `warn` (exit 1): writes on the failover path (failover or syncing mode, forced or not), the
 *   primary or a configured failover Redis unreachable, a stale or trade-less market, a market
 *   blocked by its exchange or left out as a price outlier, trades dropped since start, outbox
 *   rows dead-lettered.
 * - `pass` (exit 0): otherwise — on the primary with fresh data.
 * - exit 3 (UNKNOWN) is for when the check itself cannot run (unreadable data directory,
 *   unparseable status): {@link unknownReport} still yields a document (status `fail`, since
 *   health+json has no "unknown") so `--json` consumers always get JSON.
 *
 * Invariant: every string in the input is already free of secrets; `report` adds none.
 */

import type { MarketStatus } from "../runtime/status.ts";
import type {
  HealthCheck,
  HealthDocument,
  HealthExitCode,
  HealthInput,
  HealthReport,
  HealthStatus,
  OutboxSummary,
} from "./types.ts";
import { formatNagios, type NagiosThresholds } from "./nagios.ts";
import { formatTable } from "./table.ts";

const RANK: Record<HealthStatus, number> = { pass: 0, warn: 1, fail: 2 };
const EXIT: Record<HealthStatus, HealthExitCode> = { pass: 0, warn: 1, fail: 2 };

/** Turns observations into the health document, Nagios line, table and exit code. */
export function report(input: HealthInput): HealthReport {
  const time = new Date(input.nowMs).toISOString();
  const checks: Record<string, HealthCheck[]> = {};
  const add = (key: string, check: Omit<HealthCheck, "time">) => {
    checks[key] = [{ ...check, output: oneLine(check.output), time }];
  };
  const s = input.status;
  const heartbeatAge = s ? round1(Math.max(0, input.nowMs - s.heartbeatAt) / 1000) : null;
  const running = s !== null && heartbeatAge !== null &&
    heartbeatAge <= input.heartbeatMaxAgeSeconds;

  add("stream:heartbeat", {
    componentType: "system",
    ...(s ? { componentId: `pid ${s.pid}` } : {}),
    observedValue: heartbeatAge,
    observedUnit: "s",
    status: running ? "pass" : "fail",
    output: heartbeatOutput(input, heartbeatAge, running),
  });
  if (s && running) {
    const onFailoverPath = s.mode !== "primary" || s.forced;
    add("stream:mode", {
      componentType: "system",
      observedValue: s.mode,
      status: onFailoverPath ? "warn" : "pass",
      output: `${s.mode} mode${s.forced ? " (forced by btcfeed failover)" : ""}`,
    });
    const lastReason = s.transitions.at(-1)?.reason ?? "";
    if (onFailoverPath && lastReason.startsWith("primary replicas:")) {
      add("redis-primary:replicas", {
        componentType: "datastore",
        observedValue: s.counters.replicaShortfalls ?? 0,
        status: "warn",
        output: `${lastReason}; trades stay pending and are re-sent`,
      });
    }
    if (s.sync) {
      add("sync:progress", {
        componentType: "component",
        observedValue: s.sync.done,
        observedUnit: "trades",
        status: "warn",
        output: `replaying the outbox into the primary: ${fmt(s.sync.done)} of ${
          fmt(s.sync.total)
        }`,
      });
    }
    add("stream:dropped", {
      componentType: "system",
      observedValue: s.counters.dropped,
      observedUnit: "trades",
      status: s.counters.dropped > 0 ? "warn" : "pass",
      output: s.counters.dropped > 0
        ? `${fmt(s.counters.dropped)} trades dropped since start (outbox full or disk error)`
        : "no trade dropped",
    });
  }

  const { primary, failover } = input.probes;
  add("redis-primary:responseTime", {
    componentType: "datastore",
    ...(primary.url ? { componentId: primary.url } : {}),
    observedValue: primary.ok ? round2(primary.latencyMs ?? 0) : null,
    observedUnit: "ms",
    status: primary.ok ? "pass" : "warn",
    output: primary.ok ? "reachable" : `primary unreachable: ${primary.error ?? "no answer"}`,
  });
  add("redis-failover:responseTime", {
    componentType: "datastore",
    ...(failover?.url ? { componentId: failover.url } : {}),
    observedValue: failover?.ok ? round2(failover.latencyMs ?? 0) : null,
    observedUnit: "ms",
    status: !failover || failover.ok ? "pass" : "warn",
    output: !failover
      ? "not configured (the outbox alone carries an outage)"
      : failover.ok
      ? "reachable"
      : `failover unreachable: ${failover.error ?? "no answer"}`,
  });

  const outbox = outboxOf(input);
  if (outbox) {
    const anyRedis = primary.ok || (failover?.ok ?? false);
    add("outbox:depth", {
      componentType: "datastore",
      observedValue: outbox.depth,
      observedUnit: "trades",
      status: outbox.full || outbox.error ? "fail" : "pass",
      output: outboxOutput(outbox, anyRedis),
    });
    add("outbox:deadLetters", {
      componentType: "datastore",
      observedValue: outbox.deadLetters,
      observedUnit: "trades",
      status: outbox.deadLetters > 0 ? "warn" : "pass",
      output: outbox.deadLetters > 0
        ? `${fmt(outbox.deadLetters)} outbox rows could not be applied and were set aside`
        : "none",
    });
  }

  for (const market of marketsOf(input)) {
    const age = input.marketAges[market];
    const m: MarketStatus | undefined = running ? s?.markets[market] : undefined;
    const fallback = m?.last ? Math.max(0, input.nowMs - m.last.ts) / 1000 : null;
    const ageSeconds = age ? age.ageSeconds : fallback;
    const stale = ageSeconds === null || ageSeconds > input.maxAgeSeconds;
    add(`feed-${market}:age`, {
      componentType: "component",
      observedValue: ageSeconds === null ? null : round1(ageSeconds),
      observedUnit: "s",
      status: stale ? "warn" : "pass",
      output: ageSeconds === null
        ? `${market}: ${age || m ? "no trade yet" : "age unknown (no Redis and no stream to ask)"}`
        : `${market}: latest trade ${round1(ageSeconds)} s old${
          stale ? ` (over ${input.maxAgeSeconds} s)` : ""
        } (read from ${age?.source ?? "the stream's status"})`,
    });
    if (m) {
      const problem = m.state === "blocked" || m.outlier;
      add(`feed-${market}:state`, {
        componentType: "component",
        observedValue: m.state,
        status: problem ? "warn" : "pass",
        output: m.state === "blocked"
          ? `${market}: blocked by the exchange${m.lastError ? `: ${m.lastError}` : ""}`
          : m.outlier
          ? `${market}: price strays from the other markets, left out of the consolidated price`
          : `${market}: ${m.state}`,
      });
    }
  }

  const all = Object.values(checks).flat();
  const status = all.reduce<HealthStatus>(
    (w, c) => RANK[c.status] > RANK[w] ? c.status : w,
    "pass",
  );
  const problems = [
    ...all.filter((c) => c.status === "fail"),
    ...all.filter((c) => c.status === "warn"),
  ]
    .map((c) => c.output);
  const document: HealthDocument = {
    status,
    ...(input.version ? { version: input.version } : {}),
    description: "btcfeed: BTC trades from exchanges into Redis with failover",
    ...(status === "pass" ? {} : { output: problems.join("; ") }),
    mode: running ? s!.mode : null,
    forced: running ? s!.forced : null,
    heartbeatAge,
    time,
    checks,
  };
  return finish(document, EXIT[status], passSummary(input, running), {
    maxAgeSeconds: input.maxAgeSeconds,
    heartbeatMaxAgeSeconds: input.heartbeatMaxAgeSeconds,
  });
}

/**
 * The report for a check that could not run (exit 3, UNKNOWN): the document's status is `fail`
 * and its `output` says why.
 */
export function unknownReport(reason: string, nowMs: number, version?: string): HealthReport {
  const document: HealthDocument = {
    status: "fail",
    ...(version ? { version } : {}),
    description: "btcfeed: BTC trades from exchanges into Redis with failover",
    output: oneLine(`health check could not run: ${reason}`),
    mode: null,
    forced: null,
    heartbeatAge: null,
    time: new Date(nowMs).toISOString(),
    checks: {},
  };
  return finish(document, 3, "", {});
}

function finish(
  document: HealthDocument,
  exitCode: HealthExitCode,
  okSummary: string,
  thresholds: NagiosThresholds,
): HealthReport {
  return {
    status: document.status,
    exitCode,
    document,
    nagios: formatNagios(document, exitCode, okSummary, thresholds),
    table: formatTable(document),
  };
}

function heartbeatOutput(input: HealthInput, age: number | null, running: boolean): string {
  const s = input.status;
  if (!s || age === null) return `stream not running: no status in ${input.dataDir}`;
  if (!running) return `stream not running: heartbeat ${age} s old`;
  return `stream pid ${s.pid} alive, heartbeat ${age} s old`;
}

function outboxOf(input: HealthInput): OutboxSummary | null {
  if (input.outbox) return input.outbox;
  const o = input.status?.outbox;
  return o ? { ...o, deadLetters: 0, error: o.lastError } : null;
}

function outboxOutput(o: OutboxSummary, anyRedis: boolean): string {
  const size = `${fmt(o.depth)} trades (${bytes(o.bytes)}) of ${fmt(o.maxTrades)} max`;
  if (o.error) return `outbox disk error: ${o.error}; ${size}`;
  if (o.full) {
    return `outbox full: ${size}, new trades are being dropped` +
      (anyRedis ? "" : " and no Redis is reachable");
  }
  return o.depth === 0 ? "empty" : size;
}

/** Markets from the status (priority order) first, then any only the probes saw. */
function marketsOf(input: HealthInput): string[] {
  const names = new Set(Object.keys(input.status?.markets ?? {}));
  for (const m of Object.keys(input.marketAges)) names.add(m);
  return [...names];
}

function passSummary(input: HealthInput, running: boolean): string {
  const s = input.status;
  if (!s || !running) return "";
  const markets = marketsOf(input).length;
  const latency = input.probes.primary.latencyMs;
  return `primary mode, ${markets} market${markets === 1 ? "" : "s"} fresh` +
    (latency !== null ? `, primary ${round2(latency)} ms` : "");
}

function oneLine(s: string): string {
  return s.replace(/[\r\n]+/g, " ").replace(/\|/g, "/");
}

function round1(n: number): number {
  return Math.round(n * 10) / 10;
}

function round2(n: number): number {
  return Math.round(n * 100) / 100;
}

function fmt(n: number): string {
  return n.toLocaleString("en-US");
}

/** Human-readable size: 1.2 MB. */
export function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ["KB", "MB", "GB", "TB"];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(1)} ${units[i]}`;
}
