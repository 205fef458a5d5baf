/**
 * The timing of planned replacements of a market's connection (private to lib/feed): when the
 * next one is due, how long a replacement may take to prove its overlap, and the trades it
 * delivered meanwhile.
 *
 * Invariants:
 * - At most one replacement is due at a time: arming the due timer clears the previous one.
 * - Held trades leave only through `release()` (in arrival order) or are dropped with the
 *   replacement (`abandon()`, `stop()`); they are bounded by `handoverTimeoutMs` of delivery.
 * - After `stop()` no timer of this object fires.
 */

import type { ParseResult } from "../exchanges/adapter.ts";
import type { RawTrade } from "../trade.ts";
import type { Clock } from "../time.ts";

export interface HandoverInit {
  clock: Clock;
  maxConnectionAgeMs: number;
  handoverTimeoutMs: number;
  /** A replacement is due (the age limit, or a retry after a failed one). */
  onDue(reason: string): void;
  /** The replacement did not prove its overlap within `handoverTimeoutMs`. */
  onTimeout(): void;
}

/** The due timer, the overlap timeout and the held trades of one connection's replacements. */
export class Handover {
  #init: HandoverInit;
  #dueTimer: unknown = null;
  #timeoutTimer: unknown = null;
  #held: ParseResult[] = [];

  constructor(init: HandoverInit) {
    this.#init = init;
  }

  /** A replacement is due `maxConnectionAgeMs` after the connection just opened. */
  armAgeLimit(): void {
    this.#due("connection age limit", this.#init.maxConnectionAgeMs);
  }

  /** A failed replacement is tried again after `delayMs`. */
  retryAfter(delayMs: number): void {
    this.#due("retry replacement", delayMs);
  }

  /** No replacement is due (the connection is gone). */
  disarm(): void {
    this.#clear("due");
  }

  /** The replacement opened: it has `handoverTimeoutMs` to prove its overlap. */
  awaitOverlap(): void {
    this.#timeoutTimer = this.#init.clock.setTimeout(
      () => this.#init.onTimeout(),
      this.#init.handoverTimeoutMs,
    );
  }

  /** Keeps a replacement's trades until the hand-over. */
  hold(trades: RawTrade[]): void {
    this.#held.push({ trades, events: [], rejects: [] });
  }

  /** The hand-over happens: stops the timeout and gives the held trades, in arrival order. */
  release(): ParseResult[] {
    this.#clear("timeout");
    const held = this.#held;
    this.#held = [];
    return held;
  }

  /** The replacement failed: its held trades and timeout go. */
  abandon(): void {
    this.#held = [];
    this.#clear("timeout");
  }

  /** Clears every timer and drops the held trades. */
  stop(): void {
    this.#clear("due");
    this.#clear("timeout");
    this.#held = [];
  }

  #due(reason: string, delayMs: number): void {
    this.#clear("due");
    this.#dueTimer = this.#init.clock.setTimeout(() => {
      this.#dueTimer = null;
      this.#init.onDue(reason);
    }, delayMs);
  }

  #clear(which: "due" | "timeout"): void {
    const t = which === "due" ? this.#dueTimer : this.#timeoutTimer;
    if (t !== null) this.#init.clock.clearTimeout(t);
    if (which === "due") this.#dueTimer = null;
    else this.#timeoutTimer = null;
  }
}

/** True when a replacement's trades prove the overlap: one was already delivered. */
export function provesOverlap(
  trades: RawTrade[],
  seen: ((trade: RawTrade) => boolean) | undefined,
): boolean {
  return trades.length > 0 && (!seen || trades.some((t) => safeSeen(seen, t)));
}

function safeSeen(seen: (t: RawTrade) => boolean, t: RawTrade): boolean {
  try {
    return seen(t);
  } catch {
    return false;
  }
}
