/**
 * Checks of what this stream feeds and with whom (private to lib/health): a market's
 * connection state (`feed-<market>:state`) and, in a feeder group, this feeder's role
 * (`group:role`).
 *
 * `group:role` semantics: the writer passes; a standby passes when some feeder holds the
 * writer lease and this one is journaling (a market live); no writer in the group, or a group
 * view older than {@link GROUP_VIEW_MAX_AGE_MS} (the primary not answering), warns.
 */

import type { GroupStatus, MarketStatus, StreamStatus } from "../runtime/status.ts";
import type { HealthCheck } from "./types.ts";

/** A group view older than this (ms) warns: this feeder cannot see its group. */
export const GROUP_VIEW_MAX_AGE_MS = 10_000;

export function marketState(market: string, m: MarketStatus): Omit<HealthCheck, "time"> {
  return {
    componentType: "component",
    observedValue: m.state,
    status: m.state === "blocked" || m.outlier ? "warn" : "pass",
    output: m.state === "blocked"
      ? `${market}: blocked by the exchange${m.lastError ? `: ${m.lastError}` : ""}`
      : m.outlier
      ? `${market}: price strays from the other markets, left out of the consolidated price`
      : `${market}: ${m.state}`,
  };
}

/** `group:role`: see the module comment. */
export function groupCheck(
  s: StreamStatus,
  g: GroupStatus,
  nowMs: number,
): Omit<HealthCheck, "time"> {
  const live = g.members.length;
  const base = {
    componentType: "component" as const,
    componentId: g.feederId,
    observedValue: g.role,
  };
  const viewAge = g.viewAt === null ? null : nowMs - g.viewAt;
  if (viewAge === null || viewAge > GROUP_VIEW_MAX_AGE_MS) {
    const age = viewAge === null ? "never read" : `${Math.round(viewAge / 1000)} s old`;
    return {
      ...base,
      status: "warn",
      output: `${g.role} in group ${g.name}: group view ${age}${
        g.lastError ? ` (${g.lastError})` : ""
      }`,
    };
  }
  if (g.role === "writer") {
    return {
      ...base,
      status: "pass",
      output: `writer of group ${g.name} (epoch ${g.epoch}), ${live} feeder(s) live`,
    };
  }
  const journaling = Object.values(s.markets).some((m) => m.state === "live");
  const writer = g.writer ? `${g.writer.id} writes (epoch ${g.writer.epoch})` : "no writer";
  return {
    ...base,
    status: g.writer && journaling ? "pass" : "warn",
    output: `standby in group ${g.name}: ${writer}; ${
      journaling ? "journaling" : "no market live"
    }, ${live} feeder(s) live`,
  };
}
