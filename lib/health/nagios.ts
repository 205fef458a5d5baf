/**
 * The monitoring-plugin status line: `BTCFEED OK - <summary> | label=value[unit];warn;crit;min;max`.
 *
 * Invariants: one line, at most {@link NAGIOS_MAX_BYTES} bytes (plugins read only the first
 * 4 KB; the summary is shortened and trailing perfdata left out to fit), and the summary never
 * contains `|`, which would start the perfdata early.
 */

import type { HealthCheck, HealthDocument, HealthExitCode } from "./types.ts";
import { NAGIOS_MAX_BYTES } from "./types.ts";

const STATE: Record<HealthExitCode, string> = {
  0: "OK",
  1: "WARNING",
  2: "CRITICAL",
  3: "UNKNOWN",
};

const SUMMARY_MAX_BYTES = 2_000;
const encoder = new TextEncoder();

/** Thresholds printed as the perfdata's warn/crit fields. */
export interface NagiosThresholds {
  maxAgeSeconds?: number;
  heartbeatMaxAgeSeconds?: number;
}

/** The first output line for `document` with `exitCode`; `okSummary` is used when all pass. */
export function formatNagios(
  document: HealthDocument,
  exitCode: HealthExitCode,
  okSummary: string,
  thresholds: NagiosThresholds = {},
): string {
  const summary = truncateBytes(
    (document.output ?? okSummary ?? "").replace(/\|/g, "/").replace(/[\r\n]+/g, " ") ||
      (exitCode === 0 ? "all checks pass" : "no details"),
    SUMMARY_MAX_BYTES,
  );
  let line = `BTCFEED ${STATE[exitCode]} - ${summary}`;
  const perf = Object.entries(document.checks).flatMap(([key, list]) =>
    perfItem(key, list[0], thresholds)
  );
  let sep = " | ";
  for (const item of perf) {
    const next = `${line}${sep}${item}`;
    if (byteLength(next) > NAGIOS_MAX_BYTES) break;
    line = next;
    sep = " ";
  }
  return line;
}

function perfItem(key: string, check: HealthCheck | undefined, t: NagiosThresholds): string[] {
  if (!check || typeof check.observedValue !== "number") return [];
  const label = key.replace(/[^A-Za-z0-9_.-]/g, "_");
  const unit = check.observedUnit === "s" || check.observedUnit === "ms" ? check.observedUnit : "";
  let warn = "";
  let crit = "";
  if (key === "stream:heartbeat") crit = String(t.heartbeatMaxAgeSeconds ?? "");
  else if (key.startsWith("feed-") && key.endsWith(":age")) warn = String(t.maxAgeSeconds ?? "");
  const fields = [`${label}=${check.observedValue}${unit}`, warn, crit, unit ? "" : "0"];
  while (fields.length > 1 && fields[fields.length - 1] === "") fields.pop();
  return [fields.join(";")];
}

function byteLength(s: string): number {
  return encoder.encode(s).length;
}

function truncateBytes(s: string, max: number): string {
  if (byteLength(s) <= max) return s;
  let out = s.slice(0, max);
  while (byteLength(out) > max - 3) out = out.slice(0, -1);
  return out + "...";
}
