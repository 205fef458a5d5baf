/**
 * What the feed needs from durable storage to recover gaps across restarts, as interfaces (lib/feed
 * may not import lib/store; lib/app wires the SQLite implementation, lib/store/recovery_store.ts).
 *
 * Contract an implementation must keep:
 * - Held trades of a market come back in the order they were held (`seq` increasing), and a write
 *   that returned is durable (it survives a process kill).
 * - At most one pending gap per market; `savePending` replaces it, `clearPending` removes it.
 * - Methods may throw on a storage failure (disk full, I/O error); the feed then keeps the trades
 *   in memory and logs it, so a storage fault never loses what is running.
 */

import type { RawTrade } from "../trade.ts";

/** One held live trade, as stored. `fresh`: the first trade of a new connection. */
export interface HeldRow {
  seq: number;
  trade: RawTrade;
  fresh: boolean;
}

/** Live trades held (per market) while a backfill runs ahead of them. */
export interface HeldTradeStore {
  /** Appends `trades` of `market` in order, durably. */
  hold(market: string, trades: { trade: RawTrade; fresh: boolean }[]): void;
  /** Up to `limit` held rows of `market`, oldest first, after seq `afterSeq`. */
  held(market: string, limit: number, afterSeq?: number): HeldRow[];
  /** Removes the held rows of `market` up to and including `seq`. */
  release(market: string, upToSeq: number): void;
  /** Trades held for `market`. */
  heldCount(market: string): number;
}

/** A gap being backfilled, kept in the data directory until it is finished. */
export interface PendingGap {
  market: string;
  reason: "id_gap" | "disconnect";
  /** The last trade before the gap. */
  afterTradeId: string;
  afterTs: number;
  /** The first held live trade after it when known; null for a catch-up not yet bounded. */
  beforeTradeId: string | null;
  beforeTs: number | null;
  /** The last trade recovered so far (or `after`): a later attempt resumes after it. */
  resumeAfter: { tradeId: string; ts: number };
  /** Trades recovered so far. */
  recovered: number;
  /** When the gap was first detected (ms since the epoch). */
  startedAt: number;
}

/** Pending gaps, one per market at most. */
export interface PendingGapStore {
  pending(market: string): PendingGap | null;
  savePending(gap: PendingGap): void;
  clearPending(market: string): void;
}

/** Both halves, as one SQLite file in the data directory provides them. */
export interface RecoveryStore extends HeldTradeStore, PendingGapStore {}
