/**
 * The failover core's parts, built from its deps and options (private to lib/failover): the
 * primary's health probe, the failover Redis mirror, the dead-letter sink, reconciliation, the
 * direct writes, the replayer and, in a feeder group, the standby duty.
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
import { StandbyDuty, type StandbyDutyDeps } from "./standby_duty.ts";
import type { CoreCounters } from "../runtime/status.ts";

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
  /** The feeder group's seat, its prefix and markets; absent: a single feeder (no lease). */
  group?: Pick<StandbyDutyDeps, "seat" | "prefix" | "markets">;
  /** Reconciliation of the primary against the journal; absent: none (tests of other paths). */
  reconcile?: Omit<ReconcileScheduleDeps, "redis" | "journal" | "deadlineMs" | "clock">;
}

/**
 * Builds the parts; they count into `counters` (dead letters as dropped, primary resets) and
 * call `onProbeFailed` with a failed probe's one-line error.
 */
export function buildCoreParts(
  deps: FailoverCoreDeps,
  o: FailoverCoreOptions,
  clock: MonotonicClock,
  counters: CoreCounters,
  onProbeFailed: (error: string) => void,
) {
  const deadLetters = new DeadLetterSink(deps.journal);
  const primary = new PrimaryHealth({
    probe: deps.primary.probe,
    url: deps.primary.url,
    deadlineMs: o.deadlineMs,
    probeIntervalMs: o.probeIntervalMs,
    clock,
    failureLogIntervalMs: o.failureLogIntervalMs,
    onLatency: (ms) => deps.onLatency?.("primary", ms),
    onProbeFailed,
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
      onReset: (r: MarketReset) => {
        counters.primaryResets++;
        counters.reconciledTrades += r.reapplied;
        deps.reconcile!.onReset(r);
      },
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
    refused: (chunks: readonly RejectedChunk[], rows: readonly JournalRow[][]) =>
      counters.dropped += deadLetters.store(chunks, rows),
  });
  const replayer = new Replayer(deps.journal, deps.primary.replayWriter, deps.isConsolidated, {
    holder: deps.holder,
    deadlineMs: Math.max(o.deadlineMs * 10, 2_000),
  }, () => confirmReplayed(deps.primary, o.replicas, o.deadlineMs / 2));
  const standby = standbyDuty(deps, o, clock);
  return { primary, mirror, deadLetters, reconcile, direct, replayer, standby };
}

/** The standby duty of a feeder group's seat; null for a single feeder. */
function standbyDuty(
  deps: FailoverCoreDeps,
  o: FailoverCoreOptions,
  clock: MonotonicClock,
): StandbyDuty | null {
  if (!deps.group) return null;
  const { redis } = deps.primary;
  return new StandbyDuty({
    ...deps.group,
    redis,
    journal: deps.journal,
    deadlineMs: o.deadlineMs,
    clock,
  });
}
