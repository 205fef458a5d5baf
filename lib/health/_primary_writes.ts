/**
 * The stream's own checks of the primary: `redis-primary:writes` (by refusal reason) and
 * `redis-primary:reconciliation` (a primary that lost acknowledged trades, being repaired).
 */

import type { RedisFailureReason } from "../domain.ts";
import type { RedisTargetStatus, StreamStatus } from "../runtime/status.ts";
import type { HealthCheck, HealthStatus } from "./types.ts";

/** What each refusal of the primary means: the check's status and its headline. */
const REFUSAL_VERDICTS: Partial<Record<RedisFailureReason, [HealthStatus, string]>> = {
  readonly: ["warn", "primary is a read-only replica"],
  loading: ["warn", "primary is loading its dataset"],
  oom: ["fail", "primary out of memory"],
  misconf: ["fail", "primary cannot persist (MISCONF) and refuses writes"],
  noperm: ["fail", "primary refuses btcfeed's commands (ACL, NOPERM)"],
};

/** The stream's write probe and writes, by reason: OOM, MISCONF, NOPERM fail; the rest warn. */
export function primaryWritesCheck(p: RedisTargetStatus): Omit<HealthCheck, "time"> {
  // Status files of older versions have no reason; no error yet means not probed yet.
  const reason = p.reason ?? (p.healthy || p.lastError === null ? null : "unreachable");
  const verdict = reason ? REFUSAL_VERDICTS[reason] : undefined;
  const [status, headline] = verdict ??
    (reason ? ["warn", "the stream cannot write to the primary"] : ["pass", ""]);
  return {
    componentType: "datastore",
    ...(p.url ? { componentId: p.url } : {}),
    observedValue: reason ?? "ok",
    status,
    output: reason === null
      ? p.healthy ? "the primary takes writes" : "no write probe yet"
      : `${headline}: ${p.lastError ?? reason}`,
  };
}

/** Warns while trades a primary lost are re-applied from the journal. */
export function reconciliationCheck(s: StreamStatus): Omit<HealthCheck, "time"> {
  return {
    componentType: "datastore",
    observedValue: s.counters.reconciledTrades ?? 0,
    observedUnit: "trades",
    status: "warn",
    output: "the primary lost trades it had acknowledged (restart, older snapshot or promoted " +
      `replica): re-applying ${s.counters.reconciledTrades} from the journal`,
  };
}
