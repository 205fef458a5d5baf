/**
 * The WebSocket lifecycle of one market: connect, subscribe, keep alive, notice death, reconnect.
 *
 * Guarantees:
 * - Never a hot loop: every reconnect waits for the jittered backoff (reset only after a stable
 *   connection); an exchange that refuses the location at the upgrade (HTTP 451/403) puts the
 *   market in `blocked` with one clear log line and a slow retry (`blockedRetryMs`).
 * - A silent connection is noticed: no message (and no pong) for `staleAfterMs` terminates it and
 *   reconnects. Server ping frames do not count, so Binance's silence on an unknown symbol is caught.
 * - Planned replacements lose nothing: before the exchange's connection age limit
 *   (`maxConnectionAgeMs`) and when the exchange asks for a reconnect, a replacement is opened
 *   first. Its trades are held back while the old connection keeps delivering, until the new one
 *   delivers a trade already seen (the overlap is proven) or `handoverTimeoutMs` passes; then the
 *   old connection is closed and the held trades follow. The sequencer drops the overlap.
 * - Each message reaches the handler in arrival order; handler exceptions never reach the socket
 *   code. Failures are logged as one line without stack traces or URL credentials.
 * - A calm log while a market stays down: its first failure is logged in full, then at most one
 *   "still unreachable" line per `failureLogIntervalMs` (every attempt is at debug), and one line
 *   when it is live again (see `FailureLog`).
 * - `close()` (or aborting the signal) stops every timer and socket; it resolves when all are gone.
 *
 * The jobs live apart: `_link.ts` is one socket with its keep-alive and stale watchdog,
 * `_reconnect_policy.ts` the backoff and condensed failure lines, `_handover.ts` the scheduled
 * replacements; this class decides which link is which and owns the state.
 */

import WebSocket from "ws";
import type { ParseResult } from "../exchanges/adapter.ts";
import { log } from "../log.ts";
import { marketName } from "../trade.ts";
import { type Clock, SYSTEM_CLOCK } from "../time.ts";
import { Link, type LinkEnd } from "./_link.ts";
import { errorText } from "../redact.ts";
import {
  type ConnectionHandlers,
  type ConnectionOptions,
  type ConnectionState,
  DEFAULT_CONNECTION_OPTIONS,
  type FeedConnectionInit,
} from "./connection_options.ts";
import { ReconnectPolicy, type StateNotice } from "./_reconnect_policy.ts";
import { Handover, provesOverlap } from "./_handover.ts";
import { safeParse } from "./_safe_parse.ts";

export {
  type ConnectionHandlers,
  type ConnectionOptions,
  type ConnectionState,
  DEFAULT_CONNECTION_OPTIONS,
  type FeedConnectionInit,
};

/** One market's connection, reconnecting until closed. */
export class FeedConnection {
  readonly name: string;
  readonly options: Readonly<ConnectionOptions>;
  #init: FeedConnectionInit;
  #clock: Clock;
  #policy: ReconnectPolicy;
  #handover: Handover;
  #state: ConnectionState = "down";
  #primary: Link | null = null;
  #candidate: Link | null = null;
  #retryTimer: unknown = null;
  #links = new Set<Link>();
  #closed = false;
  #started = false;
  #reconnects = 0;
  #handovers = 0;
  #lastError: string | null = null;
  #idle: (() => void)[] = [];

  constructor(init: FeedConnectionInit) {
    this.#init = init;
    this.name = marketName(init.market);
    this.#clock = init.clock ?? SYSTEM_CLOCK;
    this.options = Object.freeze({ ...DEFAULT_CONNECTION_OPTIONS, ...init.options });
    this.#policy = new ReconnectPolicy(this.name, this.options, this.#clock, init.random);
    this.#handover = new Handover({
      clock: this.#clock,
      maxConnectionAgeMs: this.options.maxConnectionAgeMs,
      handoverTimeoutMs: this.options.handoverTimeoutMs,
      onDue: (reason) => this.replace(reason),
      onTimeout: () => this.#completeHandover("timeout"),
    });
    init.signal?.addEventListener("abort", () => void this.close(), { once: true });
  }

  get state(): ConnectionState {
    return this.#state;
  }
  /** Connection attempts after the first (hand-overs not included). */
  get reconnects(): number {
    return this.#reconnects;
  }
  /** Planned replacements completed. */
  get handovers(): number {
    return this.#handovers;
  }
  get lastError(): string | null {
    return this.#lastError;
  }

  /** Connects; reconnects on its own from then on. */
  start(): void {
    if (this.#started || this.#closed || this.#init.signal?.aborted) return;
    this.#started = true;
    this.#connectPrimary();
  }

  /** Opens a replacement now and hands over to it (the same path as the scheduled one). */
  replace(reason: string): void {
    if (this.#closed || this.#candidate) return;
    if (!this.#primary?.isOpen) return;
    log.info("feed.replace", { market: this.name, reason });
    this.#open("candidate");
  }

  /** Stops reconnecting and closes every socket and timer; resolves when all are gone. */
  close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      if (this.#retryTimer !== null) this.#clock.clearTimeout(this.#retryTimer);
      this.#retryTimer = null;
      this.#handover.stop();
      for (const link of this.#links) link.terminate();
      this.#setState("closed", null);
    }
    if (this.#links.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  /**
   * The one place the state changes. `notice` makes the from -> to line its own event at its
   * level (a warning unless said otherwise); other changes log at debug, recoveries at info.
   */
  #setState(next: ConnectionState, detail: string | null, notice?: StateNotice): void {
    const from = this.#state;
    if (next === "down" || next === "blocked") this.#lastError = detail;
    if (notice) {
      log[notice.level ?? "warn"](notice.event, {
        market: this.name,
        from,
        to: next,
        ...notice.fields,
      });
    }
    if (next === from) return;
    this.#state = next;
    const fields = { market: this.name, from, to: next };
    if (notice) {
      // Already logged above.
    } else if (next === "live" && this.#reconnects > 0) log.info("feed.state", fields);
    else log.debug("feed.state", fields);
    this.#callHandler(() => this.#init.handlers.onState?.(next, detail));
  }

  /** Handler exceptions are logged, never thrown into the socket code. */
  #callHandler(call: () => void): void {
    try {
      call();
    } catch (e) {
      log.error("feed.handler_failed", { market: this.name, error: errorText(e) });
    }
  }

  #connectPrimary(): void {
    this.#retryTimer = null;
    if (this.#closed) return;
    this.#setState("connecting", null);
    this.#open("primary");
  }

  /** Creates a link in `role`; a link that cannot even start ends (and is handled) at once. */
  #open(role: "primary" | "candidate"): void {
    const { adapter, market } = this.#init;
    const link = new Link({
      url: adapter.connectUrl(this.#init.wsUrl, market),
      clock: this.#clock,
      staleAfterMs: this.options.staleAfterMs ?? adapter.keepAlive.staleAfterMs,
      keepAlive: adapter.keepAlive,
      connectTimeoutMs: this.options.connectTimeoutMs,
      subscribe: adapter.subscribeMessages(market),
      outboundLimit: adapter.outboundLimit ?? null,
      onOpen: (l) => this.#onLinkOpen(l),
      onText: (l, text) => this.#onLinkText(l, text),
      onEnd: (l, why) => this.#onLinkEnd(l, why),
    });
    this.#links.add(link);
    if (role === "primary") this.#primary = link;
    else this.#candidate = link;
    link.start(WebSocket);
  }

  #onLinkOpen(link: Link): void {
    if (this.#closed) return;
    if (link === this.#primary) {
      this.#setState("live", null, this.#policy.recovered());
      this.#handover.armAgeLimit();
      this.#callHandler(() => this.#init.handlers.onOpen?.());
    } else if (link === this.#candidate) {
      this.#handover.awaitOverlap();
    }
  }

  #onLinkText(link: Link, text: string): void {
    if (this.#closed) return;
    const { adapter, market } = this.#init;
    const result = safeParse(adapter, text, market, this.#clock.now());
    const wantsReconnect = result.events.find((e) => e.kind === "reconnect");
    if (link === this.#candidate) {
      if (result.trades.length) this.#handover.hold(result.trades);
      this.#deliver({ trades: [], events: result.events, rejects: result.rejects });
      if (wantsReconnect) {
        // The replacement is going away too: drop it and keep the old connection for now.
        link.terminate();
        return;
      }
      if (provesOverlap(result.trades, this.#init.seen)) this.#completeHandover("overlap");
      return;
    }
    if (link !== this.#primary) return;
    this.#deliver(result);
    if (wantsReconnect && wantsReconnect.kind === "reconnect") this.replace(wantsReconnect.reason);
  }

  #deliver(result: ParseResult): void {
    if (!result.trades.length && !result.events.length && !result.rejects.length) return;
    this.#callHandler(() => this.#init.handlers.onMessage(result));
  }

  #completeHandover(how: "overlap" | "timeout" | "old_ended"): void {
    const next = this.#candidate;
    if (this.#closed || !next || !next.isOpen) return;
    const held = this.#handover.release();
    const old = this.#primary;
    this.#primary = next;
    this.#candidate = null;
    this.#handovers++;
    old?.retire();
    log.info("feed.handover", { market: this.name, how, held: held.length });
    for (const r of held) this.#deliver(r);
    this.#setState("live", null);
    this.#handover.armAgeLimit();
  }

  #onLinkEnd(link: Link, why: LinkEnd): void {
    this.#links.delete(link);
    if (this.#links.size === 0 && this.#closed) {
      for (const resolve of this.#idle.splice(0)) resolve();
    }
    if (this.#closed || link.retired) return;
    if (link === this.#candidate) {
      this.#candidate = null;
      this.#handover.abandon();
      log.warn("feed.replacement_failed", { market: this.name, error: why.error ?? "closed" });
      // Try again later; the old connection is still delivering.
      this.#handover.retryAfter(this.#policy.nextDelayMs());
      return;
    }
    if (link !== this.#primary) return;
    this.#primary = null;
    if (this.#candidate?.isOpen) {
      this.#completeHandover("old_ended");
      return;
    }
    if (this.#candidate) {
      // A replacement still opening becomes the primary attempt.
      this.#primary = this.#candidate;
      this.#candidate = null;
      this.#setState("connecting", why.error);
      return;
    }
    this.#handover.disarm();
    this.#scheduleReconnect(link, why);
  }

  #scheduleReconnect(link: Link, why: LinkEnd): void {
    const step = this.#policy.afterEnd(link, why);
    this.#setState(step.state, step.detail, step.notice);
    this.#reconnects++;
    this.#retryTimer = this.#clock.setTimeout(() => this.#connectPrimary(), step.delayMs);
  }
}
