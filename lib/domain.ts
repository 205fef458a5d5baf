/**
 * The domain's shared vocabulary besides the trade itself (lib/trade.ts): the failover mode, a
 * market's connection state, and a source-gap record. A leaf: it imports nothing of the project,
 * so every layer may use these types without depending on the module that produces them.
 */

/**
 * The failover core's states: one closed union. Only `FailoverCore.#setMode` changes it; the
 * pump loop calls it, and `btcfeed failover` only asks for a change through the control file.
 * `standby` exists only in a feeder group (`--group`): another feeder holds the writer lease,
 * and trades are journaled here without being written to the primary.
 */
export type Mode = "primary" | "failover" | "syncing" | "standby";

/**
 * A market's connection state: `connecting` until the first message, `live` while data flows,
 * `down` between connections, `blocked` after HTTP 451/403 (the exchange refuses this location;
 * retried slowly).
 */
export const MARKET_STATES = ["connecting", "live", "down", "blocked"] as const;
export type MarketState = typeof MARKET_STATES[number];

/**
 * Why a Redis is not taking writes, machine-readable (status.json `primary.reason`, health,
 * `/metrics`). The first five are the primary's own refusals, by reply code: `readonly` (a
 * replica), `oom` (maxmemory reached), `misconf` (persistence failing), `noperm` (the ACL lacks a
 * command, key or channel), `loading` (dataset loading). The rest: `unreachable` (refused, reset,
 * timed out, closed), `auth` (password), `tls` (certificate), `error` (any other error reply).
 */
export const REDIS_FAILURE_REASONS = [
  "readonly",
  "oom",
  "misconf",
  "noperm",
  "loading",
  "unreachable",
  "auth",
  "tls",
  "error",
] as const;
export type RedisFailureReason = typeof REDIS_FAILURE_REASONS[number];

/** A detected gap in a market's trades, reported once its recovery attempt ended. */
export interface GapRecord {
  market: string;
  /**
   * `id_gap`: ids jumped on a live connection; `disconnect`: across a reconnect or restart;
   * `primary_reset`: the primary lost trades it had acknowledged, older than the journal keeps.
   */
  reason: "id_gap" | "disconnect" | "primary_reset";
  /** Last trade before the gap. */
  afterTradeId: string;
  /** First trade after the gap. */
  beforeTradeId: string;
  /** Time of the last trade before the gap (ms). */
  fromTs: number;
  /** Time of the first trade after the gap (ms). */
  toTs: number;
  /** Trades fetched from history and delivered. */
  recovered: number;
  /** Trades still missing; null when the exchange gives no way to know. */
  missing: number | null;
}

/**
 * The gap a market is recovering now (kept pending in the data directory until finished), as
 * status.json, `/metrics`, health and the monitor show it.
 */
export interface RecoveringGap {
  reason: "id_gap" | "disconnect";
  /** When the gap was first detected (ms since the epoch; kept across restarts). */
  startedAt: number;
  /** The last trade before the gap. */
  afterTradeId: string;
  /** Trades recovered so far. */
  recovered: number;
  /** Trades still to fetch, when a held live trade bounds the gap; null for an open catch-up. */
  remaining: number | null;
  /** Live trades held behind it (memory and disk). */
  held: number;
}

/** One exchange's REST use for backfill, as status.json, `/metrics` and health show it. */
export interface RestStatus {
  /** `banned` while a ban (HTTP 418) lasts; `rate_limited` while a 429's Retry-After lasts. */
  state: "ok" | "rate_limited" | "banned";
  /** End of the current block, ms since the epoch; null when not blocked. */
  blockedUntil: number | null;
  /** Requests sent. */
  requests: number;
  /** Rate-limit replies (429, Kraken's rate-limit body). */
  rateLimited: number;
  /** Bans (HTTP 418). */
  bans: number;
  /** Retried failures (5xx, timeouts, network errors). */
  retries: number;
  /** The budget's steady ceiling in units per second, and what one page costs. */
  unitsPerSecond: number;
  pageCost: number;
}
