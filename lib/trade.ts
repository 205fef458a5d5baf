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

/**
 * Exchange marks a trade may carry: `block` (Bybit `BT`: a block trade, negotiated off the book)
 * and `rpi` (Bybit `RPI`: filled against a retail-price-improvement order).
 */
export type TradeFlag = "block" | "rpi";

/** Every trade flag, in the canonical order a trade's `flags` list keeps. */
export const TRADE_FLAGS: readonly TradeFlag[] = ["block", "rpi"];

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
  /**
   * Exchange fills this trade aggregates, when more than one (OKX `trades` sends one message per
   * taker order and price, `count` fills with the consecutive ids `tradeId - fills + 1` to
   * `tradeId`, and `sz` their sum). Absent: one. The sequencer needs it to tell an aggregate
   * from a gap; it is not written to Redis.
   */
  fills?: number;
  /** Exchange marks (Bybit block / RPI trades), in that order; absent when none applies. */
  flags?: TradeFlag[];
  /**
   * True for a trade that is not current news: fetched by a backfill. Such a trade never moves
   * `P:btc:last` back in time, is published with `"late":true` and never on `btc_price`. Not
   * stored in the journal: everything replayed from it is late anyway.
   */
  late?: boolean;
}

/** A trade as an adapter produces it, before the sequencer assigns its entry ID. */
export type RawTrade = Omit<Trade, "id">;

export interface Market {
  exchange: string;
  base: string;
  quote: string;
}

const MARKET_RE = /^([a-z][a-z0-9]*):([A-Z0-9]+)-([A-Z0-9]+)$/;
/** Plain decimal text above zero: a non-zero integer part, or `0.` with a non-zero digit after. */
const POSITIVE_DECIMAL_RE = /^(?:[1-9][0-9]*(?:\.[0-9]+)?|0\.[0-9]*[1-9][0-9]*)$/;
const U64_RE = /^(0|[1-9][0-9]{0,19})$/;
const MAX_U64_TEXT = "18446744073709551615";

/** Earliest accepted trade time (ms): 2001-09-09. */
export const MIN_TRADE_MS = 1_000_000_000_000;
/** Latest accepted trade time (ms): 2100-01-01. */
export const MAX_TRADE_MS = 4_102_444_800_000;
/** Longest accepted price or size text. */
export const MAX_DECIMAL_CHARS = 64;

/** `binance:BTC-USDT` from its parts. */
export function marketName(m: Market): string {
  return `${m.exchange}:${m.base}-${m.quote}`;
}

/** Parses `binance:BTC-USDT`; returns null when it is not a market name. */
export function parseMarket(name: string): Market | null {
  const m = MARKET_RE.exec(name);
  return m ? { exchange: m[1], base: m[2], quote: m[3] } : null;
}

/**
 * The trade rules, in one place. Every part that accepts a trade applies these and no others:
 * the adapters field by field (`exchanges/_fields.ts`), the writer and the outbox through
 * {@link tradeProblem}, and the apply script's own server-side pass (`redis/apply_script.ts`,
 * generated from the constants here). `tests/redis/trade_rules_test.ts` runs one table of cases
 * against both this check and the script.
 *
 * - `market`: `<exchange>:<BASE>-<QUOTE>`, exchange lower-case `[a-z][a-z0-9]*`, base and quote
 *   `[A-Z0-9]+`.
 * - `price`, `size`: plain decimal text (digits, at most one inner dot; no sign, exponent,
 *   spaces or leading zeros), strictly greater than zero, at most {@link MAX_DECIMAL_CHARS}
 *   characters.
 * - `tradeId`: an unsigned 64-bit integer in decimal text without leading zeros.
 * - `id`: `<ms>-<seq>`, both unsigned 64-bit decimal text without leading zeros, not `0-0`.
 * - `side`: exactly `buy` or `sell`.
 * - `ts`, `receivedAt`: whole milliseconds in [{@link MIN_TRADE_MS}, {@link MAX_TRADE_MS}].
 * - `flags`: absent, or a non-empty list of distinct {@link TRADE_FLAGS} in their order
 *   (`["block"]`, `["rpi"]`, `["block","rpi"]`); written to Redis and the journal as the
 *   comma-joined text ({@link FLAG_TEXTS}).
 */

/** True for a price or size: plain decimal text above zero, at most 64 characters. */
export function isPositiveDecimal(s: string): boolean {
  return s.length <= MAX_DECIMAL_CHARS && POSITIVE_DECIMAL_RE.test(s);
}

/** True when `s` is an unsigned 64-bit integer in decimal text, usable as a stream ID sequence. */
export function isTradeIdText(s: string): boolean {
  return U64_RE.test(s) && (s.length < 20 || s <= MAX_U64_TEXT);
}

/** True for a trade time in whole ms within the accepted range. */
export function isTradeMs(n: unknown): n is number {
  return Number.isSafeInteger(n) && (n as number) >= MIN_TRADE_MS && (n as number) <= MAX_TRADE_MS;
}

/** Why `t` breaks the trade rules (`bad <field>`), or null when it is a valid trade. */
export function tradeProblem(t: Trade): string | null {
  if (t === null || typeof t !== "object") return "not a trade";
  if (typeof t.market !== "string" || !isMarketName(t.market)) return "bad market";
  const dash = typeof t.id === "string" ? t.id.indexOf("-") : -1;
  if (
    dash < 0 || !isTradeIdText(t.id.slice(0, dash)) || !isTradeIdText(t.id.slice(dash + 1)) ||
    t.id === "0-0"
  ) {
    return "bad id";
  }
  if (typeof t.tradeId !== "string" || !isTradeIdText(t.tradeId)) return "bad tradeId";
  if (typeof t.price !== "string" || !isPositiveDecimal(t.price)) return "bad price";
  if (typeof t.size !== "string" || !isPositiveDecimal(t.size)) return "bad size";
  if (t.side !== "buy" && t.side !== "sell") return "bad side";
  if (!isTradeMs(t.ts)) return "bad ts";
  if (!isTradeMs(t.receivedAt)) return "bad receivedAt";
  if (t.flags !== undefined && !isTradeFlags(t.flags)) return "bad flags";
  return null;
}

/** True for a non-empty list of distinct {@link TRADE_FLAGS} in their canonical order. */
export function isTradeFlags(flags: unknown): flags is TradeFlag[] {
  if (!Array.isArray(flags) || flags.length === 0) return false;
  let previous = -1;
  for (const f of flags) {
    const i = TRADE_FLAGS.indexOf(f);
    if (i <= previous) return false; // unknown (-1), repeated or out of order
    previous = i;
  }
  return true;
}

/**
 * Every valid `flags` list as its stored text, the flags joined by commas in canonical order
 * (`block`, `block,rpi`, `rpi`). The apply script and the journal's CHECK accept exactly these.
 */
export const FLAG_TEXTS: readonly string[] = TRADE_FLAGS.reduce<string[][]>(
  (sets, f) => [...sets, ...sets.map((s) => [...s, f]), [f]],
  [],
).map((s) => s.join(","));

/** The `flags` list a stored text stands for; undefined for none (null or empty). */
export function flagsFromText(text: string | null | undefined): TradeFlag[] | undefined {
  return text ? text.split(",") as TradeFlag[] : undefined;
}

/** Market names already found valid: a stream has a handful, and each trade names one. */
const VALID_MARKETS = new Set<string>();

function isMarketName(name: string): boolean {
  if (VALID_MARKETS.has(name)) return true;
  if (!MARKET_RE.test(name)) return false;
  if (VALID_MARKETS.size < 1_000) VALID_MARKETS.add(name);
  return true;
}

/** The deterministic stream entry ID of a trade at `ms` with `tradeId`. */
export function entryIdFor(ms: number, tradeId: string): string {
  return `${ms}-${tradeId}`;
}

/** Orders stream entry IDs `<ms>-<seq>` as Redis does; -1, 0 or 1. */
export function compareEntryIds(a: string, b: string): number {
  const [am, as] = a.split("-");
  const [bm, bs] = b.split("-");
  return compareTradeIds(am, bm) || compareTradeIds(as, bs);
}

/**
 * Orders unsigned decimal integer texts without leading zeros (trade ids, entry ID parts)
 * numerically: -1, 0 or 1. The apply script's `ucmp` is the same comparison.
 */
export function compareTradeIds(a: string, b: string): number {
  if (a.length !== b.length) return a.length < b.length ? -1 : 1;
  return a < b ? -1 : a > b ? 1 : 0;
}
