/** The failover core's part of the status and its counting, assembled from its pieces. */

import type { ModeState } from "./_mode_state.ts";
import type { FeederGroup } from "./feeder_group.ts";
import type { Journal } from "../store/journal.ts";
import type { CoreCounters, CoreStatus, RedisTargetStatus } from "../runtime/status.ts";
import type { FailoverMirror } from "./mirror.ts";
import { errorText } from "../redact.ts";
import type { ApplyResult } from "../redis/writer.ts";
import type { ReplayedBatch } from "./replayer.ts";
import { log } from "../log.ts";

/** What {@link coreStatus} reads. */
export interface CoreStatusParts {
  state: ModeState;
  counters: CoreCounters;
  journal: Journal;
  /** Trades held in memory for a direct primary write: pending in the journal, not "in the outbox". */
  inMemory: number;
  journalError: unknown;
  /** A primary reset is being repaired from the journal. */
  repairing: boolean;
  primary: RedisTargetStatus;
  mirror: FailoverMirror | null;
}

/** The core's status; the outbox depth counts pending rows not held in memory. */
export function coreStatus(group: FeederGroup | null, p: CoreStatusParts): CoreStatus {
  const depth = Math.max(0, p.journal.depth() - p.inMemory);
  const syncDone = p.state.syncDone;
  return {
    mode: p.state.mode,
    forced: p.state.forced,
    transitions: [...p.state.transitions],
    counters: {
      ...p.counters,
      writtenFailover: p.mirror?.written ?? 0,
      mirrorDropped: p.mirror?.dropped ?? 0,
    },
    outbox: {
      depth,
      bytes: p.journal.bytes(),
      maxTrades: p.journal.maxTrades,
      full: p.journal.isFull(),
      lastError: p.journalError === null
        ? null
        : typeof p.journalError === "string"
        ? p.journalError
        : errorText(p.journalError),
      deadLetters: p.journal.deadLetterCount(),
    },
    sync: syncDone === null ? null : { done: syncDone, total: syncDone + depth },
    repairing: p.repairing,
    primary: p.primary,
    failover: p.mirror?.health() ??
      { url: null, healthy: false, latencyMs: null, lastError: null },
    group: group?.status() ?? null,
  };
}

/** Counts a direct primary write; trades older than a market's newest entry are logged. */
export function countApplied(counters: CoreCounters, result: ApplyResult): void {
  counters.writtenPrimary += result.applied;
  counters.duplicates += result.duplicates + result.stale;
  const late = result.outOfOrder;
  if (!late.length) return;
  counters.outOfOrder += late.length;
  log.error("trades older than the primary's newest were not appended (out-of-order)", {
    count: late.length,
    first: `${late[0].market} ${late[0].id}`,
  });
}

/** Counts one replayed batch. */
export function countReplayed(counters: CoreCounters, batch: ReplayedBatch): void {
  counters.replayed += batch.applied;
  counters.duplicates += batch.duplicates;
  counters.outOfOrder += batch.outOfOrder;
}
