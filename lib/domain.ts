/**
 * The domain's shared vocabulary besides the trade itself (lib/trade.ts): the failover mode, a
 * market's connection state, and a source-gap record. A leaf: it imports nothing of the project,
 * so every layer may use these types without depending on the module that produces them.
 */

/**
 * The failover core's states: one closed union. Only `FailoverCore.#setMode` changes it; the
 * pump loop calls it, and `btcfeed failover` only asks for a change through the control file.
 */
export type Mode = "primary" | "failover" | "syncing";

/**
 * A market's connection state: `connecting` until the first message, `live` while data flows,
 * `down` between connections, `blocked` after HTTP 451/403 (the exchange refuses this location;
 * retried slowly).
 */
export const MARKET_STATES = ["connecting", "live", "down", "blocked"] as const;
export type MarketState = typeof MARKET_STATES[number];

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
