/**
 * Salvage of gap recovery's state (`held_trades`, `pending_gaps`) from a store file moved aside
 * as corrupt (private to lib/store; `salvage.ts` runs it before the journal's rows).
 *
 * Guarantees:
 * - A market's pending gap and held trades go back into the live recovery store only when the
 *   live store knows nothing of that market yet (no journaled trade, no pending gap, no held
 *   trade, decided once per market before anything of this file is appended) and `restore` is
 *   set (no stream runs). The next `stream` then resumes the gap and releases the held trades
 *   after its backfill, in their order: a held trade (newer than the gap) is never applied
 *   before the gap's trades.
 * - Otherwise a stream already went on past that market without them: they could only be
 *   applied out of order, so they are counted as superseded, never appended. The gap is not
 *   forgotten: when the live journal holds that market's first trade since (nothing pruned),
 *   a gap record spans from the gap's start to it, `missing` = the span minus the trades the
 *   gap had recovered (which assumes those had reached the primary, as they had unless the
 *   primary was away too).
 * - Held trades keep their per-market order (read in `seq` order, appended in that order). A
 *   held trade on a lost page leaves a hole that the released queue backfills like any id gap.
 */

import type { DatabaseSync } from "node:sqlite";
import type { GapRecord } from "../domain.ts";
import { isTradeIdText, type RawTrade } from "../trade.ts";
import type { Journal } from "./journal.ts";
import type { GapStore } from "./gap_store.ts";
import {
  type PendingRow,
  type RecoveryStore,
  type StoredPendingGap,
  toPending,
} from "./recovery_store.ts";
import { readAll, scan } from "./_salvage_read.ts";

/** What was found of gap recovery's state. */
export interface RecoverySalvage {
  /** Held live trades put back into the live store's `held_trades`. */
  heldTrades: number;
  /** Held trades read but not put back: a stream already streamed their market. */
  heldSuperseded: number;
  /** `held_trades` seqs that could not be read (an upper bound on held trades lost). */
  heldUnreadable: number;
  /** Pending gaps put back into the live store's `pending_gaps`. */
  pendingGaps: number;
  /** Pending gaps read but not put back: a stream already streamed their market. */
  pendingGapsSuperseded: number;
  /** Of those, recorded as a gap record up to the market's first trade since. */
  pendingGapsRecorded: number;
}

/** Salvages `db`'s held trades and pending gaps into `recovery` (see the module comment). */
export function salvageRecovery(
  db: DatabaseSync,
  live: Live,
  restore: boolean,
): RecoverySalvage {
  const out: RecoverySalvage = {
    heldTrades: 0,
    heldSuperseded: 0,
    heldUnreadable: 0,
    pendingGaps: 0,
    pendingGapsSuperseded: 0,
    pendingGapsRecorded: 0,
  };
  const decided = new Map<string, boolean>();
  const fresh = (market: string) => {
    let ok = decided.get(market);
    if (ok === undefined) {
      ok = restore && live.journal.lastTrade(market) === null &&
        live.recovery.pending(market) === null && live.recovery.heldCount(market) === 0;
      decided.set(market, ok);
    }
    return ok;
  };
  // Every market is decided before anything is put back (a restored gap must not decide it).
  const gaps = readAll(db, "SELECT * FROM pending_gaps ORDER BY market") as unknown as PendingRow[];
  for (const g of gaps) fresh(g.market);
  for (const r of readAll(db, "SELECT DISTINCT market FROM held_trades")) fresh(String(r.market));
  restorePendingGaps(gaps, fresh, live, out);
  restoreHeld(db, fresh, live, out);
  return out;
}

type Live = { journal: Journal; gaps: GapStore; recovery: RecoveryStore };

/** Pending gaps of fresh markets go back; the others are recorded as gaps where possible. */
function restorePendingGaps(
  gaps: PendingRow[],
  fresh: (market: string) => boolean,
  live: Live,
  out: RecoverySalvage,
): void {
  for (const g of gaps) {
    if (!fresh(g.market)) {
      out.pendingGapsSuperseded++;
      const record = supersededRecord(toPending(g), live.journal);
      if (record) live.gaps.append(record, Number(g.started_at));
      if (record) out.pendingGapsRecorded++;
      continue;
    }
    live.recovery.savePending(toPending(g));
    out.pendingGaps++;
  }
}

/** Held trades of fresh markets go back, in their order; unreadable ones are counted. */
function restoreHeld(
  db: DatabaseSync,
  fresh: (market: string) => boolean,
  live: Live,
  out: RecoverySalvage,
): void {
  const scanned = scan(db, "held_trades", "seq, market, fresh, trade", (rows) => {
    const byMarket = new Map<string, { trade: RawTrade; fresh: boolean }[]>();
    for (const r of rows) {
      const market = String(r.market);
      if (!fresh(market)) {
        out.heldSuperseded++;
        continue;
      }
      let trade: RawTrade;
      try {
        trade = JSON.parse(String(r.trade)) as RawTrade;
      } catch {
        out.heldUnreadable++;
        continue;
      }
      const list = byMarket.get(market) ?? [];
      list.push({ trade, fresh: Number(r.fresh) === 1 });
      byMarket.set(market, list);
    }
    // One market's rows keep their order; markets are independent queues.
    for (const [market, held] of byMarket) {
      live.recovery.hold(market, held);
      out.heldTrades += held.length;
    }
  });
  out.heldUnreadable += scanned.failed;
}

/**
 * The record of a pending gap a stream went on past: from its start to the market's first trade
 * in the live journal; null when that trade is unknown (none yet, or pruned) or ids are not
 * integers.
 */
function supersededRecord(g: StoredPendingGap, journal: Journal): GapRecord | null {
  const first = journal.hasPruned(g.market) ? null : journal.oldestRetained(g.market);
  if (!first || !isTradeIdText(first.tradeId) || !isTradeIdText(g.afterTradeId)) return null;
  const span = BigInt(first.tradeId) - BigInt(g.afterTradeId) - 1n;
  if (span <= 0n) return null;
  const missing = span - BigInt(g.recovered);
  return {
    market: g.market,
    reason: g.reason,
    afterTradeId: g.afterTradeId,
    beforeTradeId: first.tradeId,
    fromTs: g.afterTs,
    toTs: first.ts,
    recovered: g.recovered,
    missing: missing > 0n ? Number(missing) : 0,
  };
}
