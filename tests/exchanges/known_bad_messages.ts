/**
 * Regression catalogue of messages that once broke (or could break) a parser, with the outcome we
 * promise for each. Add a case whenever a bad message is found in the wild or by the fuzz test.
 */

import type { RejectReason } from "../../lib/exchanges/adapter.ts";

export interface KnownBad {
  exchange: string;
  why: string;
  text: string;
  reasons: RejectReason[];
  /** Trades still produced from the valid part of the message. @default 0 */
  trades?: number;
  /** Parse as a REST page instead of a WebSocket message. */
  rest?: boolean;
}

const BINANCE_TRADE =
  `{"e":"trade","E":1785312345678,"s":"BTCUSDT","t":5123456789,"p":"117250.01000000","q":"0.00125000","T":1785312345677,"m":true,"M":true}`;

export const KNOWN_BAD_MESSAGES: KnownBad[] = [
  { exchange: "binance", why: "empty frame", text: "", reasons: ["invalid_json"] },
  {
    exchange: "binance",
    why: "byte-order mark before JSON",
    text: "\uFEFF" + BINANCE_TRADE,
    reasons: ["invalid_json"],
  },
  {
    exchange: "binance",
    why: "duplicate key: JSON.parse keeps the last value, which is negative",
    text: BINANCE_TRADE.replace(`"q":"0.00125000"`, `"q":"0.00125000","q":"-1"`),
    reasons: ["bad_size"],
  },
  {
    exchange: "binance",
    why: "__proto__ key must not reach the prototype or change the trade",
    text: BINANCE_TRADE.replace(`{"e"`, `{"__proto__":{"m":false},"e"`).replace(`,"m":true`, ""),
    reasons: ["bad_side"],
  },
  {
    exchange: "binance",
    why: "trade time in µs (timeUnit=MICROSECOND) is not silently read as ms",
    text: BINANCE_TRADE.replace("1785312345677", "1785312345677123"),
    reasons: ["bad_time"],
  },
  {
    exchange: "binance",
    why: "nesting deep enough to exhaust the parser's stack",
    text: "[".repeat(100_000) + "]".repeat(100_000),
    reasons: ["invalid_json"],
  },
  { exchange: "binance", why: "a top-level string", text: `"trade"`, reasons: ["wrong_type"] },
  {
    exchange: "binance",
    why: "REST page that is an object",
    text: `{"id":1}`,
    reasons: ["wrong_type"],
    rest: true,
  },
  {
    exchange: "coinbase",
    why: "Advanced Trade events that are not an array",
    text: `{"channel":"market_trades","events":{"trades":[]}}`,
    reasons: ["wrong_type"],
  },
  {
    exchange: "coinbase",
    why: "timestamp without a zone",
    text:
      `{"type":"match","trade_id":1,"side":"buy","size":"1","price":"1","product_id":"BTC-USD","time":"2026-07-28T12:00:00.1"}`,
    reasons: ["bad_time"],
  },
  {
    exchange: "kraken",
    why: "price as 1e400 overflows a float to Infinity: its text is rejected",
    text:
      `{"channel":"trade","type":"update","data":[{"symbol":"BTC/USD","side":"buy","price":1e400,"qty":1,"ord_type":"limit","trade_id":1,"timestamp":"2026-07-28T12:00:00.1Z"}]}`,
    reasons: ["bad_price"],
  },
  {
    exchange: "kraken",
    why: "one bad trade in a snapshot does not drop the good one",
    text:
      `{"channel":"trade","type":"snapshot","data":[{"symbol":"BTC/USD","side":"buy","price":1,"qty":1,"ord_type":"limit","trade_id":1,"timestamp":"2026-07-28T12:00:00.1Z"},{"symbol":"BTC/USD","side":"buy","price":-1,"qty":1,"ord_type":"limit","trade_id":2,"timestamp":"2026-07-28T12:00:00.1Z"}]}`,
    reasons: ["bad_price"],
    trades: 1,
  },
  {
    exchange: "kraken",
    why: "REST row too short",
    text: `{"error":[],"result":{"XXBTZUSD":[["1","1",1785312345.1,"b"]],"last":"1"}}`,
    reasons: ["bad_trade_id"],
    rest: true,
  },
  {
    exchange: "bitstamp",
    why: "microtimestamp with a fraction",
    text:
      `{"event":"trade","channel":"live_trades_btcusd","data":{"id":1,"microtimestamp":"1583691851934000.5","amount_str":"1","price_str":"1","type":0}}`,
    reasons: ["bad_time"],
  },
  {
    exchange: "okx",
    why: "text PONG in capitals is not the keep-alive reply",
    text: "PONG",
    reasons: ["invalid_json"],
  },
  {
    exchange: "okx",
    why: "data that is not an array",
    text: `{"arg":{"channel":"trades","instId":"BTC-USDT"},"data":{"tradeId":"1"}}`,
    reasons: ["wrong_type"],
  },
  {
    exchange: "bybit",
    why: "trade id longer than 64 bits",
    text:
      `{"topic":"publicTrade.BTCUSDT","data":[{"T":1785312345677,"s":"BTCUSDT","S":"Buy","v":"1","p":"1","i":"99999999999999999999999"}]}`,
    reasons: ["bad_trade_id"],
  },
];
