/**
 * Health checks of the gaps being recovered: `warn` while a market has a gap pending (live
 * trades are held behind it, so the primary lags that market until it is finished), naming the
 * market, how long it has been pending, what was recovered and, when known, what is left.
 * Markets without a pending gap get no check.
 */

import type { StreamStatus } from "../runtime/status.ts";
import type { HealthCheck } from "./types.ts";
import { fmt } from "./_format.ts";

/** One check per market with a pending gap, keyed `gap-<market>:pending`. */
export function gapChecks(
  status: StreamStatus,
  nowMs: number,
): [string, Omit<HealthCheck, "time">][] {
  return Object.entries(status.markets).flatMap(([market, m]) => {
    const g = m.recovering;
    if (!g) return [];
    const since = Math.max(0, Math.round((nowMs - g.startedAt) / 1000));
    const left = g.remaining === null ? "catching up" : `${fmt(g.remaining)} to go`;
    return [[`gap-${market}:pending`, {
      componentType: "component",
      componentId: market,
      observedValue: g.remaining ?? g.recovered,
      observedUnit: "trades",
      status: "warn",
      output: `${market}: gap pending for ${since} s (${g.reason}): ${fmt(g.recovered)} ` +
        `recovered, ${left}, ${fmt(g.held)} live trades held`,
    }]] as [string, Omit<HealthCheck, "time">][];
  });
}
