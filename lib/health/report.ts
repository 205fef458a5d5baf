/**
 * The health verdict: a pure function from observations to a report, so every status and exit
 * path is unit-tested without a Redis or a stream.
 *
 * Semantics (the contract in README.md, "Health output"):
 * - `fail` (exit 2): no stream running — no status, a status that says it stopped, the stream
 *   lock free (the process is gone, whatever its last status says), or a heartbeat older than
 *   `heartbeatMaxAgeSeconds`; the outbox at its limit or reporting a disk error (trades are
 *   being dropped then, whether or not a Redis is reachable — the contract's "no Redis
 *   reachable and outbox over its limit" is the common case of this); a store file moved aside
 *   as corrupt and not yet salvaged by `btcfeed sync --recover`; a crash loop of
 *   {@link RESTART_THRESHOLDS}`.fail` starts in 10 minutes; the primary refusing writes for a
 *   reason an operator must fix (out of memory, MISCONF, NOPERM).
 * - `warn` (exit 1): writes on the failover path (failover or syncing mode, forced or not), the
 *   primary or a configured failover Redis unreachable, a stale or trade-less market, a market
 *   blocked by its exchange or left out as a price outlier, trades dropped since start (or by an
 *   earlier run, for 10 minutes after a restart), outbox rows dead-lettered,
 *   {@link RESTART_THRESHOLDS}`.warn` starts in 10 minutes; the primary a read-only replica or
 *   loading its dataset (the stream's write probe says so: health's own PING cannot); an
 *   exchange's REST rate-limiting or banning backfill.
 * - `pass` (exit 0): otherwise — on the primary with fresh data; in a feeder group, also a
 *   standby that journals while another feeder writes (`group:role`, see _feed_checks.ts; no
 *   writer in the group warns).
 * - exit 3 (UNKNOWN) is for when the check itself cannot run (unreadable data directory,
 *   unparseable status): {@link unknownReport} still yields a document (status `fail`, since
 *   health+json has no "unknown") so `--json` consumers always get JSON.
 *
 * Invariant: every string in the input is already free of secrets; `report` adds none.
 */

import type { MarketStatus, StreamStatus } from "../runtime/status.ts";
import type {
  HealthCheck,
  HealthDocument,
  HealthExitCode,
  HealthInput,
  HealthReport,
  HealthStatus,
} from "./types.ts";
import { formatNagios, type NagiosThresholds } from "./nagios.ts";
import { formatTable } from "./table.ts";
import { marketsOf, outboxOf, outboxOutput } from "./_outbox_view.ts";
import { fmt, oneLine, round1, round2 } from "./_format.ts";
import { type Add, addProcessChecks, droppedCheck } from "./_process_checks.ts";
import { primaryWritesCheck, reconciliationCheck } from "./_primary_writes.ts";
import { gapChecks, restChecks } from "./rest_checks.ts";
import { groupCheck, marketState } from "./_feed_checks.ts";

export { bytes } from "./_format.ts";

const RANK: Record<HealthStatus, number> = { pass: 0, warn: 1, fail: 2 };
const EXIT: Record<HealthStatus, HealthExitCode> = { pass: 0, warn: 1, fail: 2 };
const DESCRIPTION = "btcfeed: BTC trades from exchanges into Redis with failover";

/** Whether a stream runs, and the words that say so. */
interface StreamView {
  running: boolean;
  heartbeatAge: number | null;
  output: string;
}

/** Turns observations into the health document, Nagios line, table and exit code. */
export function report(input: HealthInput): HealthReport {
  const time = new Date(input.nowMs).toISOString();
  const checks: Record<string, HealthCheck[]> = {};
  const add: Add = (key, check) => {
    checks[key] = [{ ...check, output: oneLine(check.output), time }];
  };
  const stream = streamView(input);
  const s = input.status;
  add("stream:heartbeat", {
    componentType: "system",
    ...(s ? { componentId: `pid ${s.pid}` } : {}),
    observedValue: stream.heartbeatAge,
    observedUnit: "s",
    status: stream.running ? "pass" : "fail",
    output: stream.output,
  });
  if (s && stream.running) addRunningChecks(add, s, input.nowMs);
  addRedisChecks(add, input);
  addOutboxChecks(add, input);
  addMarketChecks(add, input, stream.running);
  addProcessChecks(add, input);
  return summarize(input, checks, stream, time);
}

/** The lock outranks the status: a free lock means the process is gone, whatever it wrote. */
function streamView(input: HealthInput): StreamView {
  const s = input.status;
  if (!s) {
    return {
      running: false,
      heartbeatAge: null,
      output: `stream not running: no status in ${input.dataDir}`,
    };
  }
  const age = round1(Math.max(0, input.nowMs - s.heartbeatAt) / 1000);
  const view = (running: boolean, output: string) => ({ running, heartbeatAge: age, output });
  if (s.stopped) {
    const when = new Date(s.stopped.at).toISOString();
    return view(
      false,
      input.lock === "held"
        ? `stream starting: lock held, last status says stopped at ${when}`
        : `stream not running: stopped at ${when} (${s.stopped.reason})`,
    );
  }
  if (input.lock === "free") {
    return view(false, `stream not running: pid ${s.pid} exited (its stream lock is free)`);
  }
  if (age > input.heartbeatMaxAgeSeconds) {
    return view(false, `stream not running: heartbeat ${age} s old`);
  }
  return view(true, `stream pid ${s.pid} alive, heartbeat ${age} s old`);
}

function addRunningChecks(add: Add, s: StreamStatus, nowMs: number): void {
  const onFailoverPath = (s.mode !== "primary" && s.mode !== "standby") || s.forced;
  if (s.group) add("group:role", groupCheck(s, s.group, nowMs));
  add("stream:mode", {
    componentType: "system",
    observedValue: s.mode,
    status: onFailoverPath ? "warn" : "pass",
    output: `${s.mode} mode${s.forced ? " (forced by btcfeed failover)" : ""}`,
  });
  if (s.repairing) add("redis-primary:reconciliation", reconciliationCheck(s));
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
      output: `replaying the outbox into the primary: ${fmt(s.sync.done)} of ${fmt(s.sync.total)}`,
    });
  }
  add("redis-primary:writes", primaryWritesCheck(s.primary));
  add("stream:dropped", droppedCheck(s, nowMs));
  for (const [key, check] of [...restChecks(s), ...gapChecks(s, nowMs)]) add(key, check);
}

function addRedisChecks(add: Add, input: HealthInput): void {
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
}

function addOutboxChecks(add: Add, input: HealthInput): void {
  const outbox = outboxOf(input);
  if (!outbox) return;
  const anyRedis = input.probes.primary.ok || (input.probes.failover?.ok ?? false);
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

function addMarketChecks(add: Add, input: HealthInput, running: boolean): void {
  for (const market of marketsOf(input)) {
    const age = input.marketAges[market];
    const m: MarketStatus | undefined = running ? input.status?.markets[market] : undefined;
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
    if (m) add(`feed-${market}:state`, marketState(market, m));
  }
}

function summarize(
  input: HealthInput,
  checks: Record<string, HealthCheck[]>,
  stream: StreamView,
  time: string,
): HealthReport {
  const all = Object.values(checks).flat();
  const status = all.reduce<HealthStatus>(
    (w, c) => RANK[c.status] > RANK[w] ? c.status : w,
    "pass",
  );
  const problems = [
    ...all.filter((c) => c.status === "fail"),
    ...all.filter((c) => c.status === "warn"),
  ].map((c) => c.output);
  const s = stream.running ? input.status : null;
  const document: HealthDocument = {
    status,
    ...(input.version ? { version: input.version } : {}),
    description: DESCRIPTION,
    ...(status === "pass" ? {} : { output: problems.join("; ") }),
    mode: s?.mode ?? null,
    forced: s?.forced ?? null,
    heartbeatAge: stream.heartbeatAge,
    time,
    checks,
  };
  return finish(document, EXIT[status], passSummary(input, stream.running), {
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
    description: DESCRIPTION,
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

function passSummary(input: HealthInput, running: boolean): string {
  if (!input.status || !running) return "";
  const markets = marketsOf(input).length;
  const latency = input.probes.primary.latencyMs;
  return `${input.status.mode} mode, ${markets} market${markets === 1 ? "" : "s"} fresh` +
    (latency !== null ? `, primary ${round2(latency)} ms` : "");
}
