/**
 * The options, defaults and handler contract of `FeedConnection` (connection.ts), in a leaf
 * so they can be read without pulling in the socket code.
 */

import type { ExchangeAdapter, ParseResult } from "../exchanges/adapter.ts";
import type { Market, RawTrade } from "../trade.ts";
import type { MarketState } from "../domain.ts";
import type { BackoffOptions } from "./backoff.ts";
import type { Clock } from "../time.ts";
import { DEFAULT_FAILURE_LOG_OPTIONS } from "../failure_log.ts";

/** Where a connection is in its life. */
export type ConnectionState = MarketState | "closed";

/** Timing of `FeedConnection`. */
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

/** What a `FeedConnection` reports to its owner. Handlers must not block. */
export interface ConnectionHandlers {
  /** One parsed message, in arrival order (trades of a replacement arrive after the hand-over). */
  onMessage(result: ParseResult): void;
  /** A fresh connection opened after none was live (start, or reconnect after a loss). */
  onOpen?(): void;
  /** The state changed; `detail` is the reason (an error line, or null). */
  onState?(state: ConnectionState, detail: string | null): void;
}

/** Everything a `FeedConnection` needs. */
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
