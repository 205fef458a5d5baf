/**
 * One gap's recovery (private to lib/feed): backfill attempts until the gap is finished, its
 * progress kept pending in the recovery store, and the gap record it ends with.
 *
 * Invariants:
 * - The bound is always the oldest held live trade (asked before every page); none means an open
 *   catch-up that ends when REST has nothing newer.
 * - Backfilled pages are sequenced (bridging: the gap is being dealt with) and emitted at once;
 *   after each one, once the journal committed its trades, the pending row says where a later
 *   start resumes and what was recovered (never ahead of the journal: a kill loses no page).
 * - An attempt that failed retryably (no page for `giveUpAfterMs`) is followed by another after
 *   `retryAttemptMs`; only an abort (shutdown) ends the run without an end, the gap still pending.
 * - The record's `missing` is exact: the gap's id span minus the trades recovered.
 */

import { setImmediate } from "node:timers";
import type { GapRecord } from "../domain.ts";
import type { Reject } from "../exchanges/adapter.ts";
import { log } from "../log.ts";
import { errorText } from "../redact.ts";
import { sleep } from "../time.ts";
import { isTradeIdText, marketName, type RawTrade, type Trade } from "../trade.ts";
import { backfill, type BackfillResult, gapRecordOf, notBackfilled } from "./backfill.ts";
import { firstFillId, type LastTrade, type MarketSequencer } from "./sequencer.ts";
import type { HeldQueue } from "./_held_queue.ts";
import type { PendingGap } from "./recovery_store.ts";
import type { MarketPipelineInit, RecoveringGap } from "./pipeline_types.ts";

/** A trade id with its time. */
export interface Point {
  tradeId: string;
  ts: number;
}

/** The gap a run recovers. */
export interface ActiveGap {
  reason: "id_gap" | "disconnect";
  /** The last trade before the gap. */
  after: Point;
  /** The last trade delivered so far (REST resumes after it). */
  cursor: Point;
  recovered: number;
  startedAt: number;
}

/** How a run ended: the record to report (null: nothing was missed), and whether the bounding held trade follows. */
export interface GapEnd {
  record: GapRecord | null;
  bridge: boolean;
}

/** What the run hands its pages to. */
export interface GapRunHooks {
  sequencer: MarketSequencer;
  emit(trades: Trade[]): void;
  rejects(rejects: Reject[]): void;
}

/** @default 5_000 */
const DEFAULT_RETRY_ATTEMPT_MS = 5_000;

/** A gap found now, after the trade `after`: nothing recovered yet. */
export function newGap(reason: ActiveGap["reason"], after: Point, now: number): ActiveGap {
  const point = { tradeId: after.tradeId, ts: after.ts };
  return { reason, after: point, cursor: point, recovered: 0, startedAt: now };
}

/**
 * The gap a pending row describes, resumed from the journal's last trade `last` (what was really
 * committed): the row's progress may be a page ahead of or behind the journal after a kill.
 */
export function resumedGap(p: PendingGap, last: LastTrade | null): ActiveGap {
  const gap: ActiveGap = {
    reason: p.reason,
    after: { tradeId: p.afterTradeId, ts: p.afterTs },
    cursor: { ...p.resumeAfter },
    recovered: p.recovered,
    startedAt: p.startedAt,
  };
  if (!last || !isTradeIdText(last.tradeId) || !isTradeIdText(p.afterTradeId)) return gap;
  const journaled = BigInt(last.tradeId);
  const point = { tradeId: last.tradeId, ts: last.ts };
  if (journaled <= BigInt(p.afterTradeId)) {
    // Not even the gap's start reached the journal: the gap starts where the journal ends.
    return { ...gap, after: point, cursor: point, recovered: 0 };
  }
  const moved = isTradeIdText(p.resumeAfter.tradeId)
    ? Number(journaled - BigInt(p.resumeAfter.tradeId))
    : 0;
  return { ...gap, cursor: point, recovered: Math.max(0, p.recovered + moved) };
}

/** Recovers one gap; see the module comment. */
export class GapRun {
  #gap: ActiveGap;
  #held: HeldQueue;
  #init: MarketPipelineInit;
  #hooks: GapRunHooks;
  #name: string;
  #saveFailed = false;
  #saveScheduled: ReturnType<typeof setImmediate> | null = null;
  /** Set once the gap is finished: a save still scheduled must not bring it back. */
  #cleared = false;

  constructor(gap: ActiveGap, held: HeldQueue, init: MarketPipelineInit, hooks: GapRunHooks) {
    this.#gap = { ...gap };
    this.#held = held;
    this.#init = init;
    this.#hooks = hooks;
    this.#name = marketName(init.market);
  }

  /** Runs attempts until the gap is finished; null when aborted (the gap stays pending). */
  async recover(): Promise<GapEnd | null> {
    const { adapter, market, restUrl, restBudget: budget, signal, now } = this.#init;
    const g = this.#gap;
    this.#save();
    if (!adapter.rest || !budget) return this.#end(notBackfilled("no REST history"));
    log.info("feed.backfill_started", {
      market: this.#name,
      reason: g.reason,
      afterTradeId: g.after.tradeId,
      resumeAfter: g.cursor.tradeId,
      beforeTradeId: this.#bound()?.tradeId ?? null,
    });
    const sink = {
      trades: (page: RawTrade[]) => this.#page(page),
      rejects: (rejects: Reject[]) => this.#hooks.rejects(rejects),
      ready: () => whileBusy(this.#init),
    };
    for (;;) {
      const result = await backfill(
        { adapter, market, restUrl, budget },
        {
          afterTradeId: g.cursor.tradeId,
          afterTs: g.cursor.ts,
          before: () => this.#bound()?.tradeId ?? null,
        },
        sink,
        this.#init.backfill,
        signal,
        now,
      );
      if (signal.aborted) return null;
      if (result.closed || !result.retryable) return this.#end(result);
      const inMs = this.#init.retryAttemptMs ?? DEFAULT_RETRY_ATTEMPT_MS;
      log.warn("feed.backfill_retrying", {
        market: this.#name,
        error: result.error,
        recovered: g.recovered,
        held: this.#held.size,
        inMs,
      });
      this.#save();
      await sleep(inMs, signal);
      if (signal.aborted) return null;
    }
  }

  /** Progress for the market's snapshot. */
  progress(): RecoveringGap {
    const g = this.#gap;
    const bound = this.#bound();
    const remaining = bound && isTradeIdText(bound.tradeId) && isTradeIdText(g.cursor.tradeId)
      ? Number(BigInt(bound.tradeId) - BigInt(g.cursor.tradeId) - 1n)
      : null;
    return {
      reason: g.reason,
      startedAt: g.startedAt,
      afterTradeId: g.after.tradeId,
      recovered: g.recovered,
      remaining: remaining === null ? null : Math.max(0, remaining),
      held: this.#held.size,
    };
  }

  /** The gap is finished (reported): it is no longer pending. */
  clearPending(): void {
    this.#cleared = true;
    try {
      this.#init.recovery?.clearPending(this.#name);
    } catch (e) {
      log.error("feed.pending_gap_not_cleared", { market: this.#name, error: errorText(e) });
    }
  }

  #page(page: RawTrade[]): void {
    if (this.#init.signal.aborted) return;
    const filled = this.#hooks.sequencer.accept(page, { bridge: true });
    this.#gap.recovered += filled.trades.length;
    const last = this.#hooks.sequencer.last;
    if (last) this.#gap.cursor = { tradeId: last.tradeId, ts: last.ts };
    this.#hooks.emit(filled.trades);
    this.#save();
  }

  #end(result: BackfillResult): GapEnd {
    const g = this.#gap;
    // Closed open-ended, the tape was quiet: a trade held since is released like any other.
    const bound = result.closed && result.bound === null ? null : this.#bound();
    const before = bound ?? (g.recovered > 0 ? nextAfter(g.cursor) : null);
    const spanned = !!before && isTradeIdText(before.tradeId) && isTradeIdText(g.after.tradeId) &&
      BigInt(before.tradeId) - BigInt(g.after.tradeId) > 1n;
    // A catch-up that found the first live trade right after the last one missed nothing.
    const record = !spanned ? null : gapRecordOf(
      this.#name,
      {
        afterTradeId: g.after.tradeId,
        afterTs: g.after.ts,
        beforeTradeId: before.tradeId,
        beforeTs: before.ts,
      },
      g.reason,
      g.recovered,
    );
    if (record?.missing) {
      log.warn("feed.backfill_incomplete", {
        market: this.#name,
        missing: record.missing,
        pages: result.pages,
        retries: result.retries,
        error: result.error ?? "the exchange's history no longer has them",
      });
    }
    return { record, bridge: bound !== null };
  }

  /**
   * The first id the oldest held trade covers (an OKX aggregate covers `fills` ids ending at its
   * own): the gap ends before it, so its fills are never fetched again.
   */
  #bound(): Point | null {
    const t = this.#held.first();
    if (!t || !isTradeIdText(t.tradeId)) return t;
    return { tradeId: String(firstFillId(t, BigInt(t.tradeId))), ts: t.ts };
  }

  /**
   * Saves the gap's progress on disk, at the end of this event-loop turn: after the journal's
   * group commit of the pages emitted so far (scheduled first, by their submit), so the saved
   * cursor never gets ahead of the trades on disk (a kill in between would skip a page).
   */
  #save(): void {
    this.#saveScheduled ??= setImmediate(() => {
      this.#saveScheduled = null;
      if (!this.#cleared && !this.#init.signal.aborted) this.#saveNow();
    });
  }

  #saveNow(): void {
    const g = this.#gap;
    const bound = this.#bound();
    try {
      this.#init.recovery?.savePending({
        market: this.#name,
        reason: g.reason,
        afterTradeId: g.after.tradeId,
        afterTs: g.after.ts,
        beforeTradeId: bound?.tradeId ?? null,
        beforeTs: bound?.ts ?? null,
        resumeAfter: { ...g.cursor },
        recovered: g.recovered,
        startedAt: g.startedAt,
      });
      this.#saveFailed = false;
    } catch (e) {
      if (!this.#saveFailed) {
        log.error("feed.pending_gap_not_saved", { market: this.#name, error: errorText(e) });
      }
      this.#saveFailed = true;
    }
  }
}

/** Resolves once `init.busy` says the emitted trades were taken in (or at abort). */
export async function whileBusy(init: Pick<MarketPipelineInit, "busy" | "signal">): Promise<void> {
  while (init.busy?.() && !init.signal.aborted) await sleep(20, init.signal);
}

/** The point just after `p`: where a quiet tape's next trade will be. */
function nextAfter(p: Point): Point | null {
  return isTradeIdText(p.tradeId) ? { tradeId: String(BigInt(p.tradeId) + 1n), ts: p.ts } : null;
}
