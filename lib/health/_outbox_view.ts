/** The outbox and market lists as the health report reads them (private to lib/health). */

import type { HealthInput, OutboxSummary } from "./types.ts";
import { bytes, fmt } from "./_format.ts";

/** The outbox as gathered, else the stream's view of it (without a dead-letter count). */
export function outboxOf(input: HealthInput): OutboxSummary | null {
  if (input.outbox) return input.outbox;
  const o = input.status?.outbox;
  return o ? { ...o, deadLetters: 0, error: o.lastError } : null;
}

export function outboxOutput(o: OutboxSummary, anyRedis: boolean): string {
  const size = `${fmt(o.depth)} trades (${bytes(o.bytes)}) of ${fmt(o.maxTrades)} max`;
  if (o.error) return `outbox disk error: ${o.error}; ${size}`;
  if (o.full) {
    return `outbox full: ${size}, new trades are being dropped` +
      (anyRedis ? "" : " and no Redis is reachable");
  }
  return o.depth === 0 ? "empty" : size;
}

/** Markets from the status (priority order) first, then any only the probes saw. */
export function marketsOf(input: HealthInput): string[] {
  const names = new Set(Object.keys(input.status?.markets ?? {}));
  for (const m of Object.keys(input.marketAges)) names.add(m);
  return [...names];
}
