/**
 * The normalized trade and market naming.
 *
 * Invariants:
 * - `price` and `size` are the exchange's exact decimal text; money never round-trips through floats.
 * - `side` is the **taker's** side.
 * - `id` is the trade's Redis stream entry ID, `<ms>-<tradeId>`: deterministic, so re-adding a
 *   trade is a no-op, and strictly increasing within a market in trade order (the feed's
 *   sequencer guarantees it before a trade reaches the failover core).
 */

export type Side = "buy" | "sell";

/** One trade, as every part of btcfeed after the exchange adapter sees it. */
export interface Trade {
  /** Market name, `<exchange>:<BASE>-<QUOTE>`, e.g. `binance:BTC-USDT`. */
  market: string;
  /** The exchange's trade id as decimal integer text. */
  tradeId: string;
  /** Exact decimal text. */
  price: string;
  /** Exact decimal text. */
  size: string;
  /** The taker's side. */
  side: Side;
  /** Exchange trade time, ms since the epoch. */
  ts: number;
  /** When btcfeed received it, ms since the epoch. */
  receivedAt: number;
  /** Stream entry ID `<ms>-<tradeId>`; see {@link entryIdFor}. */
  id: string;
}

/** A trade as an adapter produces it, before the sequencer assigns its entry ID. */
export type RawTrade = Omit<Trade, "id">;

export interface Market {
  exchange: string;
  base: string;
  quote: string;
}

const MARKET_RE = /^([a-z][a-z0-9]*):([A-Z0-9]+)-([A-Z0-9]+)$/;
const DECIMAL_RE = /^(0|[1-9][0-9]*)(\.[0-9]+)?$/;
const TRADE_ID_RE = /^(0|[1-9][0-9]{0,19})$/;
const MAX_U64 = 18446744073709551615n;

/** `binance:BTC-USDT` from its parts. */
export function marketName(m: Market): string {
  return `${m.exchange}:${m.base}-${m.quote}`;
}

/** Parses `binance:BTC-USDT`; returns null when it is not a market name. */
export function parseMarket(name: string): Market | null {
  const m = MARKET_RE.exec(name);
  return m ? { exchange: m[1], base: m[2], quote: m[3] } : null;
}

/** True for plain non-negative decimal text such as `117250.01` (no sign, exponent or spaces). */
export function isDecimalText(s: string): boolean {
  return DECIMAL_RE.test(s);
}

/** True for decimal text that is strictly greater than zero. */
export function isPositiveDecimal(s: string): boolean {
  return isDecimalText(s) && /[1-9]/.test(s);
}

/** True when `s` is an unsigned 64-bit integer in decimal text, usable as a stream ID sequence. */
export function isTradeIdText(s: string): boolean {
  return TRADE_ID_RE.test(s) && BigInt(s) <= MAX_U64;
}

/** The deterministic stream entry ID of a trade at `ms` with `tradeId`. */
export function entryIdFor(ms: number, tradeId: string): string {
  return `${ms}-${tradeId}`;
}

/** Orders stream entry IDs `<ms>-<seq>` as Redis does; -1, 0 or 1. */
export function compareEntryIds(a: string, b: string): number {
  const [am, as] = a.split("-");
  const [bm, bs] = b.split("-");
  return compareUnsigned(am, bm) || compareUnsigned(as, bs);
}

function compareUnsigned(a: string, b: string): number {
  if (a.length !== b.length) return a.length < b.length ? -1 : 1;
  return a < b ? -1 : a > b ? 1 : 0;
}
