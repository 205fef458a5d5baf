/**
 * Bybit v5 public spot `publicTrade.<SYMBOL>` adapter.
 *
 * - Numbers are strings; `S` (`Buy`/`Sell`) is the taker's side; `T` is ms; `i` is the trade id
 *   (decimal text for spot; anything else is rejected as `bad_trade_id`).
 * - `i` is not a per-symbol sequence: disconnects are detected, gaps by id are not. No REST backfill
 *   (`/v5/market/recent-trade` returns only the latest trades, with no cursor).
 * - The client sends `{"op":"ping"}` every 20 s; the `pong` reply counts as a heartbeat.
 * - `BT: true` (block trade) and `RPI: true` (retail-price-improvement trade) are kept on the
 *   trade as `flags` (`block`, `rpi`), never dropped; either field, when sent, must be a boolean.
 */

import type { ExchangeAdapter, ParseResult } from "./adapter.ts";
import { isObject, type JsonObject, parseJson } from "./_json.ts";
import {
  decimalFromString,
  errorText,
  idFromString,
  msFromNumber,
  rejectOnly,
  ResultBuilder,
  sideFrom,
  symbolIs,
} from "./_fields.ts";
import { type Market, type RawTrade, type TradeFlag } from "../trade.ts";

/** `BTCUSDT` for BTC-USDT. */
export function bybitSymbol(market: Market): string {
  return `${market.base}${market.quote}`;
}

function parseMessage(text: string, market: Market, receivedAt: number): ParseResult {
  const v = parseJson(text);
  if (v === undefined) return rejectOnly(text, "invalid_json");
  if (!isObject(v)) return rejectOnly(text, "wrong_type");
  const out = new ResultBuilder(text);
  if (typeof v.topic === "string") {
    if (!v.topic.startsWith("publicTrade.")) return out.reject("unknown_event").result();
    if (v.topic !== `publicTrade.${bybitSymbol(market)}`) {
      return out.reject("wrong_market").result();
    }
    if (!Array.isArray(v.data)) return out.reject("wrong_type").result();
    for (const t of v.data) {
      const trade = isObject(t)
        ? tradeOf(t, market, receivedAt, out)
        : (out.reject("wrong_type"), null);
      if (trade) out.trades.push(trade);
    }
  } else if (typeof v.op === "string") {
    if (v.success === false) out.event({ kind: "error", message: errorText(undefined, v.ret_msg) });
    else if (v.op === "subscribe" && v.success === true) out.event({ kind: "subscribed" });
    else if (v.op === "ping" || v.op === "pong") out.event({ kind: "heartbeat" });
    else out.reject("unknown_event");
  } else {
    out.reject("unknown_event");
  }
  return out.result();
}

function tradeOf(
  o: JsonObject,
  market: Market,
  receivedAt: number,
  out: ResultBuilder,
): RawTrade | null {
  const bad = (v: unknown) => v !== undefined && typeof v !== "boolean";
  if (bad(o.BT) || bad(o.RPI)) return (out.reject("wrong_type"), null);
  const trade = out.trade(market, receivedAt, {
    symbol: symbolIs(o.s, bybitSymbol(market)),
    tradeId: idFromString(o.i),
    price: decimalFromString(o.p),
    size: decimalFromString(o.v),
    ts: msFromNumber(o.T),
    side: sideFrom(o.S, "Buy", "Sell"),
  });
  const flags: TradeFlag[] = [];
  if (o.BT === true) flags.push("block");
  if (o.RPI === true) flags.push("rpi");
  if (trade && flags.length) trade.flags = flags;
  return trade;
}

/** Bybit spot public trades; JSON ping keep-alive; no REST backfill. */
export const bybit: ExchangeAdapter = {
  name: "bybit",
  defaultMarket: { base: "BTC", quote: "USDT" },
  defaultWsUrl: "wss://stream.bybit.com/v5/public/spot",
  connectUrl: (baseUrl: string) => baseUrl,
  subscribeMessages: (market: Market) => [
    JSON.stringify({ req_id: "1", op: "subscribe", args: [`publicTrade.${bybitSymbol(market)}`] }),
  ],
  parse: parseMessage,
  keepAlive: { clientMessage: { text: `{"op":"ping"}`, intervalMs: 20_000 }, staleAfterMs: 45_000 },
  continuity: "none",
};
