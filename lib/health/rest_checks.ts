/**
 * Health checks of each exchange's REST backfill budget: `warn` while the exchange bans this IP
 * (HTTP 418: every REST request to it is paused until the ban ends), naming the exchange and the
 * end of the ban; `pass` otherwise (a 429 is waited out and is routine).
 */

import type { StreamStatus } from "../runtime/status.ts";
import type { HealthCheck } from "./types.ts";

export { gapChecks } from "./gap_checks.ts";

/** One check per exchange with a REST budget, keyed `rest-<exchange>:limit`. */
export function restChecks(status: StreamStatus): [string, Omit<HealthCheck, "time">][] {
  return Object.entries(status.rest ?? {}).map(([exchange, r]) => {
    const until = r.blockedUntil === null ? "" : new Date(r.blockedUntil).toISOString();
    return [`rest-${exchange}:limit`, {
      componentType: "component",
      componentId: exchange,
      observedValue: r.state,
      status: r.state === "banned" ? "warn" : "pass",
      output: r.state === "banned"
        ? `${exchange}: REST banned (HTTP 418) until ${until}; backfill paused`
        : r.state === "rate_limited"
        ? `${exchange}: REST rate limited until ${until}; backfill waits`
        : `${exchange}: REST within budget (${r.requests} requests, ${r.rateLimited} rate limited)`,
    }];
  });
}
