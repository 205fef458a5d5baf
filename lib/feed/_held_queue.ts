/**
 * One market's live trades held behind a running backfill (private to lib/feed): a small window in
 * memory, the rest on disk in the {@link HeldTradeStore}.
 *
 * Invariants:
 * - Trades leave in the order they were pushed: what is on disk is always older than what is in
 *   memory (a spill moves the whole window to disk, behind what is there).
 * - Memory holds at most `memoryLimit` trades plus one pushed batch; the window is also spilled
 *   `flushMs` after its first trade and on `close()`, so held trades are on disk within `flushMs`.
 * - A store that fails (disk full, I/O error) leaves the trades in memory, logged once per failure
 *   run: a storage fault never loses a held trade while the process runs.
 * - Without a store everything stays in memory (a replay, tests).
 * - `peek` then `drop` must run in the same tick (nothing spills in between).
 */

import type { RawTrade } from "../trade.ts";
import { log } from "../log.ts";
import { errorText } from "../redact.ts";
import type { HeldRow, HeldTradeStore } from "./recovery_store.ts";

/** Tuning of {@link HeldQueue}. */
export interface HeldQueueOptions {
  /** Trades kept in memory before the window spills to disk. @default 1_000 */
  memoryLimit: number;
  /** Longest time a held trade stays in memory only. @default 100 */
  flushMs: number;
}

/** The defaults of {@link HeldQueueOptions}. */
export const DEFAULT_HELD_QUEUE_OPTIONS: Readonly<HeldQueueOptions> = Object.freeze({
  memoryLimit: 1_000,
  flushMs: 100,
});

/** A held trade with whether it opened a new connection's delivery. */
export interface HeldTrade {
  trade: RawTrade;
  fresh: boolean;
}

/** The held trades of one market, oldest first. */
export class HeldQueue {
  #market: string;
  #store: HeldTradeStore | null;
  #o: HeldQueueOptions;
  #memory: HeldTrade[] = [];
  #onDisk = 0;
  #peeked: HeldRow[] | null = null;
  #timer: ReturnType<typeof setTimeout> | null = null;
  #failing = false;

  constructor(
    market: string,
    store: HeldTradeStore | null,
    options: Partial<HeldQueueOptions> = {},
  ) {
    this.#market = market;
    this.#store = store;
    this.#o = { ...DEFAULT_HELD_QUEUE_OPTIONS, ...options };
    this.#onDisk = store ? this.#guard(() => store.heldCount(market), 0) : 0;
  }

  /** Trades held, in memory and on disk. */
  get size(): number {
    return this.#onDisk + this.#memory.length;
  }

  /** Trades held on disk. */
  get onDisk(): number {
    return this.#onDisk;
  }

  /** Appends `trades`; the first is marked `fresh` when it opened a new connection's delivery. */
  push(trades: readonly RawTrade[], fresh: boolean): void {
    trades.forEach((trade, i) => this.#memory.push({ trade, fresh: fresh && i === 0 }));
    if (!this.#store || !trades.length) return;
    if (this.#memory.length > this.#o.memoryLimit) this.spill();
    else this.#timer ??= setTimeout(() => this.spill(), this.#o.flushMs);
  }

  /** The oldest held trade, or null. */
  first(): RawTrade | null {
    if (this.#onDisk > 0) {
      const rows = this.#diskPage(1);
      if (rows === null) return null;
      if (rows.length) return rows[0].trade;
    }
    return this.#memory[0]?.trade ?? null;
  }

  /**
   * Up to `limit` of the oldest held trades, in order, not removed (see {@link drop}). Empty
   * while trades are held means the store cannot be read right now: try again later.
   */
  peek(limit: number): HeldTrade[] {
    if (this.#onDisk > 0) {
      const rows = this.#diskPage(limit);
      if (rows === null) return [];
      if (rows.length) {
        this.#peeked = rows;
        return rows;
      }
      this.#onDisk = 0; // the count was stale: nothing is left on disk
    }
    this.#peeked = null;
    return this.#memory.slice(0, limit);
  }

  /** Removes the first `n` trades of the last {@link peek}. */
  drop(n: number): void {
    if (n <= 0) return;
    const rows = this.#peeked;
    this.#peeked = null;
    if (!rows) {
      this.#memory.splice(0, n);
      return;
    }
    const upTo = rows[Math.min(n, rows.length) - 1].seq;
    this.#guard(() => this.#store!.release(this.#market, upTo), undefined);
    this.#onDisk = Math.max(0, this.#onDisk - Math.min(n, rows.length));
  }

  /** Moves the memory window to disk (a failing store keeps it in memory). */
  spill(): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    const store = this.#store;
    if (!store || !this.#memory.length) return;
    const batch = this.#memory;
    const ok = this.#guard(() => (store.hold(this.#market, batch), true), false);
    if (!ok) return;
    this.#onDisk += batch.length;
    this.#memory = [];
  }

  /** Spills what memory holds and stops the timer. */
  close(): void {
    this.spill();
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
  }

  /** Null when the store cannot be read. */
  #diskPage(limit: number): HeldRow[] | null {
    return this.#guard<HeldRow[] | null>(() => this.#store!.held(this.#market, limit), null);
  }

  #guard<T>(fn: () => T, fallback: T): T {
    try {
      const r = fn();
      if (this.#failing) log.info("feed.held_store_ok", { market: this.#market });
      this.#failing = false;
      return r;
    } catch (e) {
      if (!this.#failing) {
        log.error("feed.held_store_failed", {
          market: this.#market,
          error: errorText(e),
          note: "held trades stay in memory until the store works again",
        });
      }
      this.#failing = true;
      return fallback;
    }
  }
}
