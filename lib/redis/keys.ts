/**
 * Redis key and channel names of the data model (the contract in README.md, "Redis keys").
 *
 * Invariants:
 * - Every per-market key is `P:{<market>}:...`: the braces are a Redis Cluster hash tag, so all keys
 *   of one market live in one slot and the apply script can touch them together.
 * - `P:btc:last`, `P:trades` and the legacy names are global (not per market), and so is the
 *   write probe's key.
 * - Names are built here only; nothing else concatenates key names.
 */

/** The keys of one market, all sharing the hash tag `{<market>}`. */
export interface MarketKeys {
  /** Stream, one entry per trade: `P:{<market>}:trades`. */
  trades: string;
  /** Hash, latest trade by trade order: `P:{<market>}:last`. */
  last: string;
  /** Hash of 1-minute candles, field = minute start ms: `P:{<market>}:candles:1m`. */
  candles: string;
  /** Stream where the feed records detected source gaps: `P:{<market>}:gaps`. */
  gaps: string;
  /** String, the highest writer epoch that wrote the market (group mode): `P:{<market>}:fence`. */
  fence: string;
}

/** The keys of `market` under `prefix`. */
export function marketKeys(prefix: string, market: string): MarketKeys {
  const base = `${prefix}:{${market}}`;
  return {
    trades: `${base}:trades`,
    last: `${base}:last`,
    candles: `${base}:candles:1m`,
    gaps: `${base}:gaps`,
    fence: `${base}:fence`,
  };
}

/** Hash with the consolidated BTC price: `P:btc:last`. */
export function btcLastKey(prefix: string): string {
  return `${prefix}:btc:last`;
}

/**
 * String the write probe sets (with a TTL): `P:{btcfeed:probe}:write`, in its own hash tag, so
 * it never shares a slot or a name with a market's keys.
 */
export function probeKey(prefix: string): string {
  return `${prefix}:{btcfeed:probe}:write`;
}

/**
 * The keys of a feeder group (`--group`), all in the hash tag `{feeders:<group>}` so the lease
 * scripts touch one slot: `lease` (string `<feederId> <epoch>` with a TTL, the writer lease),
 * `epoch` (counter, incremented by every acquisition), `members` (hash, feeder id -> JSON
 * heartbeat of each feeder).
 */
export function groupKeys(
  prefix: string,
  group: string,
): { lease: string; epoch: string; members: string } {
  const base = `${prefix}:{feeders:${group}}`;
  return { lease: `${base}:lease`, epoch: `${base}:epoch`, members: `${base}:members` };
}

/** Pub/sub channel with the JSON of each applied trade: `P:trades`. */
export function tradesChannel(prefix: string): string {
  return `${prefix}:trades`;
}

/** The original Python service's names, written with `--legacy-keys` (no prefix). */
export const LEGACY_KEYS = {
  /** String: the latest consolidated price text. */
  price: "last_btc_price",
  /** String: epoch seconds (integer) of that trade. */
  updateTime: "last_btc_update_time",
  /** List: LPUSH of `{"price","timestamp","volume"}` JSON, trimmed to {@link LEGACY_HISTORY_LENGTH}. */
  history: "btc_movement_history",
  /** Pub/sub channel with the same JSON. */
  channel: "btc_price",
} as const;

/** Length the legacy history list is trimmed to. */
export const LEGACY_HISTORY_LENGTH = 1000;
