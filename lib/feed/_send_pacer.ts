/**
 * The outbound pacer of one WebSocket (private to lib/feed): every message the client sends —
 * subscribe requests, keep-alive texts, ping frames and the pongs answering the server's pings —
 * goes through it, so a connection never sends more than the exchange allows (Binance: 5 incoming
 * messages per second per connection, pings and pongs included; over it, it disconnects).
 *
 * Guarantees:
 * - Never more than `limit.messages` sends in any interval of `limit.windowMs + marginMs`
 *   (the margin absorbs network jitter that bunches messages at the exchange's end).
 * - Nothing is dropped: over the limit, messages wait in a FIFO queue and go out in order as the
 *   window frees up. The one exception is allowed by RFC 6455 §5.5.3: a pong still waiting when a
 *   newer ping arrives is replaced by the pong to the newer ping (one pong answers them all).
 * - A waiting pong goes before every waiting text, so the server's pong deadline (Binance: a
 *   minute) is met whatever the queue holds: it waits at most one window.
 * - Without a limit, everything is sent at once (no queue, no timer).
 * - After `stop()` nothing is sent and no timer fires.
 */

import type { OutboundLimit } from "../exchanges/adapter.ts";
import type { Clock } from "../time.ts";

/** What the pacer sends through; each returns false when the socket is not open. */
export interface PacerSocket {
  text(text: string): boolean;
  ping(): boolean;
  pong(data: Uint8Array): boolean;
}

/** Tuning of {@link SendPacer}. */
export interface SendPacerOptions {
  /** Extra length of the counting window beyond the exchange's. @default 100 */
  marginMs: number;
}

/** The defaults of {@link SendPacerOptions}. */
export const DEFAULT_SEND_PACER_OPTIONS: Readonly<SendPacerOptions> = Object.freeze({
  marginMs: 100,
});

type Item = { kind: "text"; text: string; at: number } | { kind: "ping"; at: number };

/** Paces one socket's sends under `limit`. */
export class SendPacer {
  #limit: OutboundLimit | null;
  #socket: PacerSocket;
  #clock: Clock;
  #windowMs: number;
  #sentAt: number[] = [];
  #queue: Item[] = [];
  #pong: { data: Uint8Array; at: number } | null = null;
  #timer: unknown = null;
  #stopped = false;
  #maxWaitMs = 0;
  #pongsReplaced = 0;

  constructor(
    limit: OutboundLimit | null | undefined,
    socket: PacerSocket,
    clock: Clock,
    options: Partial<SendPacerOptions> = {},
  ) {
    this.#limit = limit ?? null;
    this.#socket = socket;
    this.#clock = clock;
    const margin = options.marginMs ?? DEFAULT_SEND_PACER_OPTIONS.marginMs;
    this.#windowMs = (limit?.windowMs ?? 0) + Math.max(0, margin);
  }

  /** Messages waiting (the pending pong included). */
  get queued(): number {
    return this.#queue.length + (this.#pong ? 1 : 0);
  }

  /** Pongs that were answered by a newer one while waiting. */
  get pongsReplaced(): number {
    return this.#pongsReplaced;
  }

  /** Longest a message waited in the queue so far, ms. */
  get maxWaitMs(): number {
    return this.#maxWaitMs;
  }

  text(text: string): void {
    this.#enqueue({ kind: "text", text, at: this.#clock.now() });
  }

  ping(): void {
    this.#enqueue({ kind: "ping", at: this.#clock.now() });
  }

  /** Answers a server ping (with its payload); replaces a pong not yet sent. */
  pong(data: Uint8Array): void {
    if (this.#stopped) return;
    if (this.#pong) this.#pongsReplaced++;
    this.#pong = { data, at: this.#clock.now() };
    this.#drain();
  }

  /** Drops what waits and stops the timer. */
  stop(): void {
    this.#stopped = true;
    this.#queue = [];
    this.#pong = null;
    if (this.#timer !== null) this.#clock.clearTimeout(this.#timer);
    this.#timer = null;
  }

  #enqueue(item: Item): void {
    if (this.#stopped) return;
    this.#queue.push(item);
    this.#drain();
  }

  #drain(): void {
    if (this.#stopped || this.#timer !== null) return;
    while (this.#pong || this.#queue.length) {
      const wait = this.#waitMs();
      if (wait > 0) {
        this.#timer = this.#clock.setTimeout(() => {
          this.#timer = null;
          this.#drain();
        }, wait);
        return;
      }
      this.#sendNext();
    }
  }

  #sendNext(): void {
    const now = this.#clock.now();
    const pong = this.#pong;
    const item = pong ? null : this.#queue.shift()!;
    this.#pong = null;
    if (pong) this.#socket.pong(pong.data);
    else if (item!.kind === "text") this.#socket.text(item!.text);
    else this.#socket.ping();
    this.#maxWaitMs = Math.max(this.#maxWaitMs, now - (pong ?? item!).at);
    if (this.#limit) this.#sentAt.push(now);
  }

  /** 0 when one more message may go now, else how long until it may. */
  #waitMs(): number {
    if (!this.#limit) return 0;
    const now = this.#clock.now();
    while (this.#sentAt.length && now - this.#sentAt[0] >= this.#windowMs) this.#sentAt.shift();
    if (this.#sentAt.length < this.#limit.messages) return 0;
    return this.#sentAt[0] + this.#windowMs - now;
  }
}
