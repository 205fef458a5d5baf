/**
 * The failover core's parts, built from its deps and options (private to lib/failover): the
 * primary's health probe, the failover Redis mirror, the dead-letter sink, reconciliation, the
 * direct writes and the replayer. The core passes in the few hooks that reach back into it.
 */

import { confirmReplayed, type RedisTarget } from "./targets.ts";
import type { Journal } from "../store/journal.ts";
import type { JournalIntakeOptions } from "./intake.ts";
import type { ReconcileScheduleDeps } from "./reconcile_schedule.ts";
import type { FailoverCoreOptions } from "../defaults.ts";
import type { MonotonicClock } from "../time.ts";
import type { RejectedChunk } from "../redis/writer.ts";
import type { JournalRow } from "../store/journal.ts";
import type { MarketReset } from "./reconciler.ts";
import { PrimaryHealth } from "./primary_health.ts";
import { FailoverMirror } from "./mirror.ts";
import { DeadLetterSink } from "./dead_letter_sink.ts";
import { ReconcileSchedule } from "./reconcile_schedule.ts";
import { DirectWrites } from "./direct_writes.ts";
import { Replayer } from "./replayer.ts";

/** What the failover core is built from. */
export interface FailoverCoreDeps {
  primary: RedisTarget;
  failover: RedisTarget | null;
  /** The journal; its pending part is the outbox. */
  journal: Journal;
  /** Group-commit tuning. */
  intake?: Partial<JournalIntakeOptions>;
  /** Whether a market currently feeds the consolidated price. */
  isConsolidated: (market: string) => boolean;
  /** Unique lease holder name for this process. */
  holder: string;
  /** Starts in forced failover (from the persisted control record). */
  forced: boolean;
  /** Round-trip observations for metrics. */
  onLatency?: (target: "primary" | "failover", ms: number) => void;
  /** Measures the hold-down and latencies (transition times are wall time). @default monotonicNow */
  clock?: MonotonicClock;
  /** Reconciliation of the primary against the journal; absent: none (tests of other paths). */
  reconcile?: Omit<ReconcileScheduleDeps, "redis" | "journal" | "deadlineMs" | "clock">;
}

/** What the parts call back into the core with. */
export interface CoreHooks {
  onProbeFailed: (error: string) => void;
  refused: (chunks: readonly RejectedChunk[], rows: readonly JournalRow[][]) => void;
  onReset: (reset: MarketReset) => void;
}

export function buildCoreParts(
  deps: FailoverCoreDeps,
  o: FailoverCoreOptions,
  clock: MonotonicClock,
  hooks: CoreHooks,
) {
  const primary = new PrimaryHealth({
    probe: deps.primary.probe,
    url: deps.primary.url,
    deadlineMs: o.deadlineMs,
    probeIntervalMs: o.probeIntervalMs,
    clock,
    failureLogIntervalMs: o.failureLogIntervalMs,
    onLatency: (ms) => deps.onLatency?.("primary", ms),
    onProbeFailed: hooks.onProbeFailed,
  });
  const mirror = deps.failover
    ? new FailoverMirror(deps.failover, deps.isConsolidated, {
      deadlineMs: o.deadlineMs,
      probeIntervalMs: o.probeIntervalMs,
      maxBatch: o.maxBatch,
      maxBacklog: o.maxFailoverBacklog,
    }, (ms) =>
      deps.onLatency?.("failover", ms), clock)
    : null;
  const reconcile = deps.reconcile
    ? new ReconcileSchedule({
      ...deps.reconcile,
      redis: deps.primary.redis,
      journal: deps.journal,
      deadlineMs: o.deadlineMs,
      clock,
      onReset: hooks.onReset,
    })
    : null;
  const direct = new DirectWrites({
    journal: deps.journal,
    primary: deps.primary,
    isConsolidated: deps.isConsolidated,
    replicas: o.replicas,
    deadlineMs: o.deadlineMs,
    maxBatch: o.maxBatch,
    clock,
    refused: hooks.refused,
  });
  const replayer = new Replayer(deps.journal, deps.primary.replayWriter, deps.isConsolidated, {
    holder: deps.holder,
    deadlineMs: Math.max(o.deadlineMs * 10, 2_000),
  }, () => confirmReplayed(deps.primary, o.replicas, o.deadlineMs / 2));
  return {
    primary,
    mirror,
    deadLetters: new DeadLetterSink(deps.journal),
    reconcile,
    direct,
    replayer,
  };
}
