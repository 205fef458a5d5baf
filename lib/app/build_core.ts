/**
 * The stream's core, built first by the composition root (stream_app.ts): latency histogram,
 * gap recorder, consolidator and the failover core with its reconciliation against the journal.
 */

import type { Config } from "../config.ts";
import { adapterFor } from "../exchanges/registry.ts";
import { Consolidator } from "../consolidator.ts";
import { FailoverCore } from "../failover/core.ts";
import { GapRecorder } from "../failover/gap_recorder.ts";
import type { FeederGroup } from "../failover/feeder_group.ts";
import { readControl } from "../runtime/status.ts";
import { RedisLatency } from "../health/latency.ts";
import { holderName, type Stores, type Targets } from "./factories.ts";

/** How often the primary is checked against the journal while btcfeed writes to it. */
const RECONCILE_INTERVAL_MS = 30_000;

/** The core and what it needs, built before any sink or source. */
export interface Core {
  latency: RedisLatency;
  gaps: GapRecorder;
  consolidator: Consolidator;
  /** The market feeding the consolidated price now (refreshed every tick). */
  choice: { market: string | null };
  core: FailoverCore;
  /** The feeder group seat (`--group`), null for a single feeder. */
  seat: FeederGroup | null;
}

export function buildCore(
  config: Config,
  stores: Stores,
  targets: Targets,
  seat: FeederGroup | null,
  markets: string[],
): Core {
  const { primary, failover } = targets;
  const latency = new RedisLatency();
  const gaps = new GapRecorder({
    store: stores.gaps,
    primary,
    failover,
    prefix: config.prefix,
    mayWrite: seat ? () => seat.holds() : undefined,
  }, {
    deadlineMs: config.deadlineMs,
  });
  const consolidator = new Consolidator(markets);
  const choice = { market: consolidator.choose(Date.now()) };
  const core = new FailoverCore({
    primary,
    failover,
    journal: stores.journal,
    isConsolidated: (m) => m === choice.market,
    holder: holderName("stream"),
    forced: readControl(config.dataDir)?.forced ?? false,
    onLatency: (target, ms) => latency.observe(target, ms),
    group: seat ? { seat, prefix: config.prefix, markets } : undefined,
    reconcile: {
      markets,
      prefix: config.prefix,
      contiguous: (m) => adapterFor(m.split(":")[0])?.continuity === "contiguous",
      intervalMs: RECONCILE_INTERVAL_MS,
      onReset: (reset) => gaps.record(reset.gap),
    },
  }, {
    deadlineMs: config.deadlineMs,
    holdDownMs: config.holdDownMs,
    replicas: config.primaryReplicas,
  });
  return { latency, gaps, consolidator, choice, core, seat };
}
