/**
 * One physical WebSocket of a market (private to lib/feed): opens, subscribes, keeps itself alive,
 * watches for silence, and reports its end exactly once.
 *
 * Invariants:
 * - `onEnd` is called exactly once per link, after its socket is gone or never existed; every
 *   timer of the link is cleared before it.
 * - Liveness counts text/binary messages and pongs to our pings; server ping frames do not count.
 * - The first cause wins: an HTTP status refused at the upgrade is what `onEnd` reports, not the
 *   generic error that follows it.
 * - Every message the client sends (subscribes, keep-alive texts, ping frames and the pongs that
 *   answer server pings; the automatic pong of `ws` is off) goes through a {@link SendPacer}
 *   under the exchange's `outboundLimit`, so the link never sends more than the exchange allows.
 */

import { Buffer } from "node:buffer";
import type WebSocket from "ws";
import type { KeepAlive, OutboundLimit } from "../exchanges/adapter.ts";
import type { Clock } from "../time.ts";
import { errorText } from "../redact.ts";
import { SendPacer } from "./_send_pacer.ts";

/** Why a link ended. */
export interface LinkEnd {
  error: string | null;
  /** HTTP status of a refused upgrade, else null. */
  status: number | null;
}

export interface LinkInit {
  url: string;
  clock: Clock;
  staleAfterMs: number;
  keepAlive: KeepAlive;
  connectTimeoutMs: number;
  subscribe: string[];
  /** The exchange's cap on messages sent per connection; null: none. */
  outboundLimit: OutboundLimit | null;
  onOpen(link: Link): void;
  onText(link: Link, text: string): void;
  onEnd(link: Link, why: LinkEnd): void;
}

/** Largest message accepted (Bybit's 1024-trade batches are far below it). */
const MAX_PAYLOAD_BYTES = 16 * 1024 * 1024;

export class Link {
  readonly url: string;
  openedAt: number | null = null;
  lastSeenAt = 0;
  /** Set when the owner replaced this link: its end is expected and not a failure. */
  retired = false;
  #init: LinkInit;
  #ws: WebSocket | null = null;
  #timers = new Map<string, unknown>();
  #end: LinkEnd = { error: null, status: null };
  #ended = false;
  #pacer: SendPacer;

  constructor(init: LinkInit) {
    this.#init = init;
    this.url = init.url;
    this.#pacer = new SendPacer(init.outboundLimit, {
      text: (t) => this.#raw((ws) => ws.send(t)),
      ping: () => this.#raw((ws) => ws.ping()),
      pong: (d) => this.#raw((ws) => ws.pong(d)),
    }, init.clock);
  }

  /** The link's outbound pacer (queue length, longest wait). */
  get pacer(): SendPacer {
    return this.#pacer;
  }

  get isOpen(): boolean {
    return !this.#ended && this.openedAt !== null;
  }

  /** Opens the socket; false (with `onEnd` already called) when it could not even be created. */
  start(WS: typeof WebSocket): boolean {
    try {
      this.#ws = new WS(this.url, {
        handshakeTimeout: this.#init.connectTimeoutMs,
        maxPayload: MAX_PAYLOAD_BYTES,
        perMessageDeflate: false,
        // Pongs are sent by the pacer: they count against the exchange's message limit.
        autoPong: false,
      });
    } catch (e) {
      this.#fail(`cannot connect: ${errorText(e)}`);
      this.#finish();
      return false;
    }
    const ws = this.#ws;
    ws.on("unexpected-response", (_req, res) => {
      this.#end = {
        error: `HTTP ${res.statusCode} at the WebSocket upgrade`,
        status: res.statusCode ?? null,
      };
      res.resume();
      ws.terminate();
    });
    ws.on("open", () => this.#onOpen());
    ws.on("message", (data, isBinary) => this.#onMessage(data, isBinary));
    ws.on("pong", () => {
      this.lastSeenAt = this.#init.clock.now();
    });
    ws.on("ping", (data) => this.#pacer.pong(data));
    ws.on("error", (e) => this.#fail(errorText(e)));
    ws.on("close", (code) => {
      if (this.#end.error === null && !this.retired) {
        this.#end.error = this.openedAt === null
          ? `closed before opening (code ${code})`
          : `closed by peer (code ${code})`;
      }
      this.#finish();
    });
    return true;
  }

  /** Marks the link as replaced and closes it. */
  retire(): void {
    this.retired = true;
    this.terminate();
  }

  /** Drops the socket at once (no closing handshake). */
  terminate(): void {
    this.#clearTimers();
    if (this.#ws) {
      try {
        this.#ws.terminate();
      } catch {
        this.#finish();
      }
    } else this.#finish();
  }

  /** Queues text for sending under the exchange's limit (dropped if the socket closes first). */
  send(text: string): void {
    this.#pacer.text(text);
  }

  /** Runs one send on the open socket; false when it is not open or the send threw. */
  #raw(op: (ws: WebSocket) => void): boolean {
    if (!this.#ws || this.#ws.readyState !== 1) return false;
    try {
      op(this.#ws);
      return true;
    } catch {
      // A send on a dying socket fails; its close event follows.
      return false;
    }
  }

  #onOpen(): void {
    const now = this.#init.clock.now();
    this.openedAt = now;
    this.lastSeenAt = now;
    for (const msg of this.#init.subscribe) this.send(msg);
    this.#armStale(this.#init.staleAfterMs);
    const { clientMessage, wsPingIntervalMs } = this.#init.keepAlive;
    if (clientMessage) {
      this.#every("client-ping", clientMessage.intervalMs, () => this.send(clientMessage.text));
    }
    if (wsPingIntervalMs) this.#every("ws-ping", wsPingIntervalMs, () => this.#pacer.ping());
    this.#init.onOpen(this);
  }

  #onMessage(data: WebSocket.RawData, _isBinary: boolean): void {
    if (this.#ended) return;
    this.lastSeenAt = this.#init.clock.now();
    const buf = Array.isArray(data)
      ? Buffer.concat(data)
      : data instanceof ArrayBuffer
      ? Buffer.from(data)
      : data;
    this.#init.onText(this, buf.toString("utf8"));
  }

  #armStale(ms: number): void {
    this.#set("stale", ms, () => {
      const silentFor = this.#init.clock.now() - this.lastSeenAt;
      if (silentFor >= this.#init.staleAfterMs) {
        this.#fail(`no message for ${silentFor} ms (stale)`);
        this.terminate();
      } else this.#armStale(this.#init.staleAfterMs - silentFor);
    });
  }

  #every(name: string, ms: number, fn: () => void): void {
    this.#set(name, Math.max(1, ms), () => {
      fn();
      if (!this.#ended) this.#every(name, ms, fn);
    });
  }

  #set(name: string, ms: number, fn: () => void): void {
    const clock = this.#init.clock;
    const old = this.#timers.get(name);
    if (old !== undefined) clock.clearTimeout(old);
    this.#timers.set(
      name,
      clock.setTimeout(() => {
        this.#timers.delete(name);
        if (!this.#ended) fn();
      }, ms),
    );
  }

  #clearTimers(): void {
    this.#pacer.stop();
    for (const t of this.#timers.values()) this.#init.clock.clearTimeout(t);
    this.#timers.clear();
  }

  #fail(error: string): void {
    if (this.#end.error === null) this.#end.error = error;
  }

  #finish(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#clearTimers();
    this.#init.onEnd(this, this.#end);
  }
}
