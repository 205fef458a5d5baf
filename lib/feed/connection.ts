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
 */

import WebSocket from "ws";
import type { ExchangeAdapter, ParseResult } from "../exchanges/adapter.ts";
import { log } from "../log.ts";
import { type Market, marketName, type RawTrade } from "../trade.ts";
import type { MarketState } from "../domain.ts";
import { Backoff, type BackoffOptions } from "./backoff.ts";
import { type Clock, SYSTEM_CLOCK } from "../time.ts";
import { Link, type LinkEnd } from "./_link.ts";
import { errorText, safeUrl } from "../redact.ts";
import {
  DEFAULT_FAILURE_LOG_OPTIONS,
  FailureLog,
  recoveredText,
  stillDownText,
} from "../failure_log.ts";
import type { LogLevel } from "../log.ts";

/** Where a connection is in its life. */
export type ConnectionState = MarketState | "closed";

/** Timing of {@link FeedConnection}. */
export interface ConnectionOptions {
  /** Reconnect backoff. @default DEFAULT_BACKOFF_OPTIONS */
  backoff: Partial<BackoffOptions>;
  /** Overrides the adapter's `keepAlive.staleAfterMs` when set. @default null */
  staleAfterMs: number | null;
  /** Retry interval while the exchange refuses this location (HTTP 451/403). @default 600_000 */
  blockedRetryMs: number;
  /** Replace a connection (with overlap) once it is this old. @default 82_800_000 (23 h) */
  maxConnectionAgeMs: number;
  /** Longest wait for a replacement to prove the overlap before switching anyway. @default 10_000 */
  handoverTimeoutMs: number;
  /** Opening handshake timeout. @default 10_000 */
  connectTimeoutMs: number;
  /** Least time between two log lines about one outage. @default 60_000 */
  failureLogIntervalMs: number;
}

/** The defaults of {@link ConnectionOptions}. */
export const DEFAULT_CONNECTION_OPTIONS: Readonly<ConnectionOptions> = Object.freeze({
  backoff: {},
  staleAfterMs: null,
  blockedRetryMs: 600_000,
  maxConnectionAgeMs: 23 * 3_600_000,
  handoverTimeoutMs: 10_000,
  connectTimeoutMs: 10_000,
  failureLogIntervalMs: DEFAULT_FAILURE_LOG_OPTIONS.intervalMs,
});

/** What a {@link FeedConnection} reports to its owner. Handlers must not block. */
export interface ConnectionHandlers {
  /** One parsed message, in arrival order (trades of a replacement arrive after the hand-over). */
  onMessage(result: ParseResult): void;
  /** A fresh connection opened after none was live (start, or reconnect after a loss). */
  onOpen?(): void;
  /** The state changed; `detail` is the reason (an error line, or null). */
  onState?(state: ConnectionState, detail: string | null): void;
}

/** Everything a {@link FeedConnection} needs. */
export interface FeedConnectionInit {
  market: Market;
  adapter: ExchangeAdapter;
  /** WebSocket base URL (the adapter's default or an override). */
  wsUrl: string;
  handlers: ConnectionHandlers;
  options?: Partial<ConnectionOptions>;
  /**
   * True when a trade was already delivered; proves a replacement's overlap.
   * @default a replacement is switched to on its first trades
   */
  seen?: (trade: RawTrade) => boolean;
  clock?: Clock;
  random?: () => number;
  signal?: AbortSignal;
}

/** One market's connection, reconnecting until closed. */
export class FeedConnection {
  readonly name: string;
  readonly options: Readonly<ConnectionOptions>;
  #init: FeedConnectionInit;
  #clock: Clock;
  #backoff: Backoff;
  #failures: FailureLog;
  #state: ConnectionState = "down";
  #primary: Link | null = null;
  #candidate: Link | null = null;
  #held: ParseResult[] = [];
  #retryTimer: unknown = null;
  #ageTimer: unknown = null;
  #handoverTimer: unknown = null;
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
    this.#backoff = new Backoff(this.options.backoff, init.random);
    this.#failures = new FailureLog(
      { intervalMs: this.options.failureLogIntervalMs },
      () => this.#clock.now(),
    );
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
      for (const t of [this.#retryTimer, this.#ageTimer, this.#handoverTimer]) {
        if (t !== null) this.#clock.clearTimeout(t);
      }
      this.#retryTimer = this.#ageTimer = this.#handoverTimer = null;
      this.#held = [];
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
  #setState(
    next: ConnectionState,
    detail: string | null,
    notice?: { event: string; fields: Record<string, unknown>; level?: LogLevel },
  ): void {
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
    try {
      this.#init.handlers.onState?.(next, detail);
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
      const recovery = this.#failures.recovered(this.name);
      this.#setState(
        "live",
        null,
        recovery
          ? {
            event: "feed.recovered",
            level: "info",
            fields: { ...recovery, message: recoveredText(this.name, recovery) },
          }
          : undefined,
      );
      this.#armAgeTimer();
      try {
        this.#init.handlers.onOpen?.();
      } catch (e) {
        log.error("feed.handler_failed", { market: this.name, error: errorText(e) });
      }
    } else if (link === this.#candidate) {
      this.#handoverTimer = this.#clock.setTimeout(
        () => this.#completeHandover("timeout"),
        this.options.handoverTimeoutMs,
      );
    }
  }

  #onLinkText(link: Link, text: string): void {
    if (this.#closed) return;
    const { adapter, market } = this.#init;
    let result: ParseResult;
    try {
      result = adapter.parse(text, market, this.#clock.now());
    } catch (e) {
      // Adapters promise not to throw; if one does, count it as a rejected message, not a crash.
      result = {
        trades: [],
        events: [],
        rejects: [{ reason: "wrong_type", sample: text.slice(0, 200) }],
      };
      log.error("feed.adapter_threw", { market: this.name, error: errorText(e) });
    }
    const wantsReconnect = result.events.find((e) => e.kind === "reconnect");
    if (link === this.#candidate) {
      if (result.trades.length) this.#held.push({ trades: result.trades, events: [], rejects: [] });
      this.#deliver({ trades: [], events: result.events, rejects: result.rejects });
      if (wantsReconnect) {
        // The replacement is going away too: drop it and keep the old connection for now.
        link.terminate();
        return;
      }
      const seen = this.#init.seen;
      if (result.trades.length && (!seen || result.trades.some((t) => safeSeen(seen, t)))) {
        this.#completeHandover("overlap");
      }
      return;
    }
    if (link !== this.#primary) return;
    this.#deliver(result);
    if (wantsReconnect && wantsReconnect.kind === "reconnect") this.replace(wantsReconnect.reason);
  }

  #deliver(result: ParseResult): void {
    if (!result.trades.length && !result.events.length && !result.rejects.length) return;
    try {
      this.#init.handlers.onMessage(result);
    } catch (e) {
      log.error("feed.handler_failed", { market: this.name, error: errorText(e) });
    }
  }

  #completeHandover(how: "overlap" | "timeout" | "old_ended"): void {
    const next = this.#candidate;
    if (this.#closed || !next || !next.isOpen) return;
    if (this.#handoverTimer !== null) this.#clock.clearTimeout(this.#handoverTimer);
    this.#handoverTimer = null;
    const old = this.#primary;
    this.#primary = next;
    this.#candidate = null;
    this.#handovers++;
    old?.retire();
    log.info("feed.handover", { market: this.name, how, held: this.#held.length });
    const held = this.#held;
    this.#held = [];
    for (const r of held) this.#deliver(r);
    this.#setState("live", null);
    this.#armAgeTimer();
  }

  #armAgeTimer(): void {
    if (this.#ageTimer !== null) this.#clock.clearTimeout(this.#ageTimer);
    this.#ageTimer = this.#clock.setTimeout(() => {
      this.#ageTimer = null;
      this.replace("connection age limit");
    }, this.options.maxConnectionAgeMs);
  }

  #onLinkEnd(link: Link, why: LinkEnd): void {
    this.#links.delete(link);
    if (this.#links.size === 0 && this.#closed) {
      for (const resolve of this.#idle.splice(0)) resolve();
    }
    if (this.#closed || link.retired) return;
    if (link === this.#candidate) {
      this.#candidate = null;
      this.#held = [];
      if (this.#handoverTimer !== null) this.#clock.clearTimeout(this.#handoverTimer);
      this.#handoverTimer = null;
      log.warn("feed.replacement_failed", { market: this.name, error: why.error ?? "closed" });
      // Try again later; the old connection is still delivering.
      if (this.#ageTimer !== null) this.#clock.clearTimeout(this.#ageTimer);
      this.#ageTimer = this.#clock.setTimeout(() => {
        this.#ageTimer = null;
        this.replace("retry replacement");
      }, this.#backoff.next());
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
    if (this.#ageTimer !== null) this.#clock.clearTimeout(this.#ageTimer);
    this.#ageTimer = null;
    this.#scheduleReconnect(link, why);
  }

  #scheduleReconnect(link: Link, why: LinkEnd): void {
    const now = this.#clock.now();
    if (link.openedAt !== null) this.#backoff.connectionEnded(link.openedAt, now);
    let delay: number;
    if (why.status === 451 || why.status === 403) {
      delay = this.options.blockedRetryMs;
      const message = `${this.name} blocked (HTTP ${why.status}): the exchange refuses this ` +
        `location; retrying every ${humanMs(delay)}; other markets continue`;
      this.#setState("blocked", message, {
        event: "feed.blocked",
        fields: { status: why.status, message },
      });
    } else {
      delay = this.#backoff.next();
      this.#setState(
        "down",
        why.error ?? "connection closed",
        this.#failureNotice(link, why, delay),
      );
    }
    this.#reconnects++;
    this.#retryTimer = this.#clock.setTimeout(() => this.#connectPrimary(), delay);
  }

  /** The log line of a failed attempt: in full, condensed, or at debug (see `FailureLog`). */
  #failureNotice(link: Link, why: LinkEnd, retryInMs: number) {
    const error = why.error ?? "connection closed";
    const verdict = this.#failures.failed(this.name);
    if (verdict.log === "repeat") {
      const { attempts, downMs } = verdict;
      const message = stillDownText(this.name, attempts, error, retryInMs);
      return { event: "feed.still_down", fields: { attempts, downMs, error, retryInMs, message } };
    }
    return {
      event: "feed.disconnected",
      level: verdict.log === "first" ? "warn" as const : "debug" as const,
      fields: { url: safeUrl(link.url), error, retryInMs, attempts: verdict.attempts },
    };
  }
}

function safeSeen(seen: (t: RawTrade) => boolean, t: RawTrade): boolean {
  try {
    return seen(t);
  } catch {
    return false;
  }
}

/** `10 min`, `30 s`, `250 ms`. */
function humanMs(ms: number): string {
  if (ms >= 60_000 && ms % 60_000 === 0) return `${ms / 60_000} min`;
  if (ms >= 1000 && ms % 1000 === 0) return `${ms / 1000} s`;
  return `${ms} ms`;
}
