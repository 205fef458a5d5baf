/**
 * What every exchange adapter provides: pure functions over messages, no sockets.
 *
 * An adapter never throws on input: anything that is not a complete, valid message becomes a
 * {@link Reject} with a reason, and never a trade.
 */

import type { Market, RawTrade } from "../trade.ts";

/** Why a message (or one trade inside it) was quarantined. */
export type RejectReason =
  | "invalid_json"
  | "wrong_type"
  | "bad_price"
  | "bad_size"
  | "bad_time"
  | "bad_trade_id"
  | "bad_side"
  | "wrong_market"
  | "unknown_event";

export interface Reject {
  reason: RejectReason;
  /** At most 200 characters of the offending text, for rate-limited log samples. */
  sample: string;
}

/** Non-trade messages the connection lifecycle acts on. */
export type AdapterEvent =
  | { kind: "subscribed" }
  | { kind: "heartbeat" }
  /** The exchange asks us to reconnect (Binance serverShutdown, Bitstamp bts:request_reconnect, OKX notice). */
  | { kind: "reconnect"; reason: string }
  /** The exchange reported an error (bad symbol, bad request). */
  | { kind: "error"; message: string }
  /** Exchange status such as Kraken `system: maintenance`. */
  | { kind: "status"; status: string };

export interface ParseResult {
  trades: RawTrade[];
  events: AdapterEvent[];
  rejects: Reject[];
}

/** How a connection is kept alive and when silence means it is dead. */
export interface KeepAlive {
  /** Text the client sends every `intervalMs` (OKX `ping`, Bybit `{"op":"ping"}`...). */
  clientMessage?: { text: string; intervalMs: number };
  /** Send WebSocket ping frames every `intervalMs` (pongs count as liveness). */
  wsPingIntervalMs?: number;
  /** No message at all for this long means the connection is dead: reconnect. */
  staleAfterMs: number;
}

/** An exchange's cap on the messages a client may send on one connection (over it: dropped). */
export interface OutboundLimit {
  /** Messages allowed per `windowMs`; pings, pongs and subscribe requests all count. */
  messages: number;
  windowMs: number;
  /** Where the figure comes from (README's exchange table). */
  source: string;
}

/**
 * An exchange's published REST allowance for its public trade history, per IP. The budget
 * (lib/feed/rest_budget.ts) spends only part of it, so other clients on the IP keep headroom.
 */
export interface RestLimits {
  /** Units (request weight, or requests) the exchange allows per `windowMs`. */
  units: number;
  windowMs: number;
  /** Units one page request costs (Binance request weight; 1 where every request counts 1). */
  pageCost: number;
  /** Where the figures come from (shown in README's exchange table). */
  source: string;
}

/** How an error a REST page carried in its body is to be treated (see `classifyRestReply`). */
export type RestErrorKind = "rate_limited" | "transient" | "permanent";

/** Trade-history REST access for gap backfill. */
export interface RestHistory {
  limits: RestLimits;
  /**
   * Kind of an error a page reported inside a successful HTTP reply (Kraken's
   * `EGeneral:Too many requests` comes with HTTP 200). Absent: every such error is permanent.
   */
  errorKind?(message: string): RestErrorKind;
  /** Default REST base URL, e.g. `https://api.binance.com`. */
  baseUrl: string;
  /**
   * Path and query (relative to the base) of one page of trades that follow the trade `after`
   * (its id and time, for exchanges whose cursor is time-based). Pages are fetched until the gap
   * closes; a page may overlap trades already seen (the sequencer drops those).
   */
  pagePath(market: Market, after: { tradeId: string; ts: number }): string;
  /** The page's trades in trade order; never throws (invalid entries are rejected). */
  parsePage(body: string, market: Market, receivedAt: number): ParseResult;
}

export interface ExchangeAdapter {
  /** Lowercase exchange name used in market names, e.g. `binance`. */
  name: string;
  /** Market used when `--exchanges` names the exchange alone. */
  defaultMarket: { base: string; quote: string };
  /** Default WebSocket URL (before any `--exchange-url` override). */
  defaultWsUrl: string;
  /** The URL to connect to for `market`, given the (possibly overridden) base URL. */
  connectUrl(baseUrl: string, market: Market): string;
  /** Messages to send once connected (may be empty when the URL selects the stream). */
  subscribeMessages(market: Market): string[];
  /** Parses one complete WebSocket text message. */
  parse(text: string, market: Market, receivedAt: number): ParseResult;
  keepAlive: KeepAlive;
  /** What the client may send per connection; absent: no documented cap, nothing is paced. */
  outboundLimit?: OutboundLimit;
  /** `contiguous`: trade ids increase by exactly one, so a gap is detectable by id. */
  continuity: "contiguous" | "none";
  /** Present when the exchange serves trade history usable for backfill. */
  rest?: RestHistory;
}
