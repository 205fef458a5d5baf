/** The shapes a {@link MarketPipeline} takes and reports (kept apart so the pipeline stays small). */

export type { RecoveringGap } from "../domain.ts";

import type { ExchangeAdapter } from "../exchanges/adapter.ts";
import type { GapRecord, MarketState, RecoveringGap } from "../domain.ts";
import type { Market, Trade } from "../trade.ts";
import type { BackfillOptions } from "./backfill.ts";
import type { RestBudget } from "./rest_budget.ts";
import type { QuarantineReason } from "./quarantine.ts";
import type { LastTrade, SequencerOptions } from "./sequencer.ts";
import type { RecoveryStore } from "./recovery_store.ts";
import type { HeldQueueOptions } from "./_held_queue.ts";

/** A market's state, as `Feed.snapshot()` and `ReplaySource.snapshot()` report it. */
export interface MarketSnapshot {
  /** `blocked`: the exchange refuses this location (HTTP 451/403); retried slowly. */
  state: MarketState;
  /** Connection attempts after the first (planned hand-overs not included). */
  reconnects: number;
  /** Planned, overlapping replacements (age limit, exchange notice). */
  handovers: number;
  /** Gaps detected (id gaps and disconnect windows). */
  gaps: number;
  /** Gaps whose trades were all recovered. */
  gapsBackfilled: number;
  /** True while live trades are held for a backfill (or are being released after one). */
  backfilling: boolean;
  /** The pending gap being recovered, or null. */
  recovering?: RecoveringGap | null;
  /** Refused messages and trades by reason (adapter rejects, `id_regression`). */
  quarantined: Partial<Record<QuarantineReason, number>>;
  /** Latest connection failure or exchange error, one line. */
  lastError: string | null;
  /** Trades dropped because they were already delivered (overlaps, snapshots). */
  duplicates: number;
  /** Trades delivered. */
  trades: number;
  /** Entry IDs moved past their trade time to stay increasing. */
  clockAdjusted: number;
  lastTradeId: string | null;
  lastTradeTs: number | null;
}

/** Everything a {@link MarketPipeline} needs. */
export interface MarketPipelineInit {
  market: Market;
  adapter: ExchangeAdapter;
  /** REST base URL for backfill; defaults to the adapter's. */
  restUrl?: string;
  /** What storage holds, so a restart neither duplicates nor misses. */
  initialLast: LastTrade | null;
  /** Receives trades in order; must not throw. */
  emit: (trades: Trade[]) => void;
  /** Receives each gap once; must not throw. */
  onGap: (gap: GapRecord) => void;
  /** Receives exchange error messages (for `lastError`). */
  onError: (message: string) => void;
  backfill?: Partial<BackfillOptions>;
  /** The exchange's REST budget, shared by its markets; required when the adapter has REST. */
  restBudget?: RestBudget;
  /** Held trades and pending gaps on disk; absent: held in memory, nothing pending survives. */
  recovery?: RecoveryStore;
  /** @default DEFAULT_HELD_QUEUE_OPTIONS */
  held?: Partial<HeldQueueOptions>;
  /**
   * True while what was emitted is not yet taken in (the core's backlog): backfill pages and
   * released held trades wait, so a large gap never piles up in memory. @default never
   */
  busy?: () => boolean;
  /** Pause before a failed backfill attempt (REST down for `giveUpAfterMs`) is tried again. @default 5_000 */
  retryAttemptMs?: number;
  sequencer?: Partial<SequencerOptions>;
  /** @default 10_000 */
  rejectLogIntervalMs?: number;
  now: () => number;
  /** Aborting stops backfills; nothing is emitted afterwards. */
  signal: AbortSignal;
}
