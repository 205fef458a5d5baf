/** The checks about the process and its files: drops across runs, restarts, the store file. */

import type { StreamStatus } from "../runtime/status.ts";
import { type HealthCheck, type HealthInput, RESTART_THRESHOLDS } from "./types.ts";
import { fmt } from "./_format.ts";

/** Restarts and earlier runs' drops count for this long (the restart history's window). */
const RECENT_MS = 10 * 60_000;

/** Adds one check to the report. */
export type Add = (key: string, check: Omit<HealthCheck, "time">) => void;

/**
 * Trades dropped since start (warn), and by earlier runs (warn for 10 minutes after a restart,
 * so a restart does not hide them).
 */
export function droppedCheck(s: StreamStatus, nowMs: number): Omit<HealthCheck, "time"> {
  const sinceStart = s.counters.dropped;
  const total = Math.max(s.droppedTotal ?? sinceStart, sinceStart);
  const earlier = total > sinceStart && nowMs - s.startedAt <= RECENT_MS;
  return {
    componentType: "system",
    observedValue: sinceStart,
    observedUnit: "trades",
    status: sinceStart > 0 || earlier ? "warn" : "pass",
    output: sinceStart > 0
      ? `${fmt(sinceStart)} trades dropped since start, ${fmt(total)} in total ` +
        "(outbox full or disk error)"
      : earlier
      ? `no trade dropped since start; earlier runs dropped ${
        fmt(total)
      } (outbox full or disk error)`
      : total > 0
      ? `no trade dropped since start (${fmt(total)} in total)`
      : "no trade dropped",
  };
}

/** Restarts in the window, and store files moved aside as corrupt. */
export function addProcessChecks(add: Add, input: HealthInput): void {
  const starts = (input.recentStarts ?? []).filter((at) => input.nowMs - at <= RECENT_MS).length;
  add("stream:restarts", {
    componentType: "system",
    observedValue: starts,
    observedUnit: "starts",
    status: starts >= RESTART_THRESHOLDS.fail
      ? "fail"
      : starts >= RESTART_THRESHOLDS.warn
      ? "warn"
      : "pass",
    output: `${starts} start${starts === 1 ? "" : "s"} in the last 10 minutes` +
      (starts >= RESTART_THRESHOLDS.warn ? " (crash loop)" : ""),
  });
  const aside = input.storeSetAside ?? [];
  add("store:integrity", {
    componentType: "datastore",
    observedValue: aside.length,
    observedUnit: "files",
    status: aside.length > 0 ? "fail" : "pass",
    output: aside.length > 0
      ? `store was corrupt, moved aside to ${
        aside.map((f) => `${input.dataDir}/${f}`).join(", ")
      }` +
        "; run btcfeed sync --recover"
      : "ok",
  });
}
