/**
 * Bitstamp `live_trades_<pair>` adapter.
 *
 * - Exact decimals come from `price_str`/`amount_str` (the number fields are ignored); `type` 0 is
 *   a taker buy, 1 a taker sell; `microtimestamp` (µs text) is truncated to ms.
 * - Trade `id` has no documented continuity: disconnects are detected, gaps by id are not.
 * - No REST backfill: `/api/v2/transactions/` reports whole seconds only, which would give a trade
 *   a different entry id than the live feed did (a duplicate, not a fill).
 * - `bts:request_reconnect` asks for a reconnect; the client sends `{"event":"bts:heartbeat"}` and
 *   the server echoes it, which keeps a quiet market's connection observably alive.
 */

import type { ExchangeAdapter, ParseResult } from "./adapter.ts";
import { isObject, JsonNumber, type JsonObject, parseJson } from "./_json.ts";
import {
  decimalFromString,
  errorText,
  idFromNumber,
  msFromString,
  rejectOnly,
  ResultBuilder,
} from "./_fields.ts";
import { type Market, type RawTrade } from "../trade.ts";

/** `live_trades_btcusd` for BTC-USD. */
export function bitstampChannel(market: Market): string {
  return `live_trades_${market.base.toLowerCase()}${market.quote.toLowerCase()}`;
}

function parseMessage(text: string, market: Market, receivedAt: number): ParseResult {
  const v = parseJson(text);
  if (v === undefined) return rejectOnly(text, "invalid_json");
  if (!isObject(v)) return rejectOnly(text, "wrong_type");
  const out = new ResultBuilder(text);
  switch (v.event) {
    case "trade": {
      if (typeof v.channel !== "string" || !isObject(v.data)) {
        return out.reject("wrong_type").result();
      }
      if (v.channel !== bitstampChannel(market)) return out.reject("wrong_market").result();
      const t = tradeOf(v.data, market, receivedAt, out);
      if (t) out.trades.push(t);
      break;
    }
    case "bts:subscription_succeeded":
      if (v.channel === bitstampChannel(market)) out.event({ kind: "subscribed" });
      break;
    case "bts:unsubscription_succeeded":
      break;
    case "bts:heartbeat":
      out.event({ kind: "heartbeat" });
      break;
    case "bts:request_reconnect":
      out.event({ kind: "reconnect", reason: "bitstamp bts:request_reconnect" });
      break;
    case "bts:error": {
      const d = isObject(v.data) ? v.data : {};
      out.event({ kind: "error", message: errorText(d.code, d.message) });
      break;
    }
    default:
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
  const type = o.type instanceof JsonNumber ? o.type.text : null;
  return out.trade(market, receivedAt, {
    tradeId: idFromNumber(o.id),
    price: decimalFromString(o.price_str),
    size: decimalFromString(o.amount_str),
    ts: msFromString(o.microtimestamp, 1000),
    side: type === "0" ? "buy" : type === "1" ? "sell" : null,
  });
}

/** Bitstamp live trades; no REST backfill (second-resolution history). */
export const bitstamp: ExchangeAdapter = {
  name: "bitstamp",
  defaultMarket: { base: "BTC", quote: "USD" },
  defaultWsUrl: "wss://ws.bitstamp.net",
  connectUrl: (baseUrl: string) => baseUrl,
  subscribeMessages: (market: Market) => [
    JSON.stringify({ event: "bts:subscribe", data: { channel: bitstampChannel(market) } }),
  ],
  parse: parseMessage,
  // BTC-USD can be quiet for tens of seconds: our heartbeat every 10 s gets an echo, so 30 s of
  // silence means the link is dead.
  keepAlive: {
    clientMessage: { text: `{"event":"bts:heartbeat"}`, intervalMs: 10_000 },
    staleAfterMs: 30_000,
  },
  continuity: "none",
};
