/**
 * Coinbase adapter: Advanced Trade `market_trades` (the default feed), and the older Exchange
 * `ws-feed` `match`/`last_match`/`heartbeat` messages when its URL is configured.
 *
 * - Side: Coinbase's public trades carry the **maker's** side (documented for Exchange matches and
 *   REST trades; for Advanced Trade `market_trades` undocumented, but the same engine and recorded
 *   messages agree), so the side is inverted to the taker's. {@link COINBASE_SIDE_IS_MAKER} is the
 *   one switch if that ever proves wrong.
 * - Advanced Trade batches ~250 ms of trades per message, newest first: trades come out in id order.
 * - `trade_id` is sequential per product (contiguous). REST backfill uses Exchange
 *   `/products/<id>/trades?after=<cursor>` where `after` returns trades with smaller ids, newest
 *   first; asking `after = last + 1001` with `limit=1000` yields exactly the next 1000 ids.
 */

import type { ExchangeAdapter, ParseResult } from "./adapter.ts";
import { isObject, type Json, JsonNumber, type JsonObject, parseJson } from "./_json.ts";
import {
  decimalFromString,
  errorText,
  idFromNumber,
  idFromString,
  invertSide,
  msFromRfc3339,
  rejectOnly,
  ResultBuilder,
  sideFrom,
  sortByTradeId,
  symbolIs,
} from "./_fields.ts";
import { isTradeIdText, type Market, type RawTrade } from "../trade.ts";

/** Public trade sides are the maker's: invert them to get the taker's. */
export const COINBASE_SIDE_IS_MAKER = true;
const REST_PAGE = 1000;

/** `BTC-USD` for BTC-USD. */
export function coinbaseProduct(market: Market): string {
  return `${market.base}-${market.quote}`;
}

function parseMessage(text: string, market: Market, receivedAt: number): ParseResult {
  const v = parseJson(text);
  if (v === undefined) return rejectOnly(text, "invalid_json");
  if (!isObject(v)) return rejectOnly(text, "wrong_type");
  const out = new ResultBuilder(text);
  if (typeof v.channel === "string") advancedTrade(v, market, receivedAt, out);
  else if (typeof v.type === "string") exchangeFeed(v, market, receivedAt, out);
  else out.reject("unknown_event");
  return out.result();
}

function advancedTrade(v: JsonObject, market: Market, receivedAt: number, out: ResultBuilder) {
  if (!Array.isArray(v.events)) return void out.reject("wrong_type");
  if (v.channel === "market_trades") {
    for (const ev of v.events) {
      if (!isObject(ev) || !Array.isArray(ev.trades)) {
        out.reject("wrong_type");
        continue;
      }
      for (const t of ev.trades) {
        const trade = isObject(t)
          ? tradeOf(t, market, receivedAt, out)
          : (out.reject("wrong_type"), null);
        if (trade) out.trades.push(trade);
      }
    }
    sortByTradeId(out.trades);
  } else if (v.channel === "heartbeats") {
    out.event({ kind: "heartbeat" });
  } else if (v.channel === "subscriptions") {
    const subs = v.events.map((
      e,
    ) => (isObject(e) && isObject(e.subscriptions) ? e.subscriptions : null));
    const mine = subs.some((s) =>
      s && Array.isArray(s.market_trades) && s.market_trades.includes(coinbaseProduct(market))
    );
    if (mine) out.event({ kind: "subscribed" });
  } else {
    out.reject("unknown_event");
  }
}

function exchangeFeed(v: JsonObject, market: Market, receivedAt: number, out: ResultBuilder) {
  switch (v.type) {
    case "match":
    case "last_match": {
      const t = tradeOf(v, market, receivedAt, out);
      if (t) out.trades.push(t);
      return;
    }
    case "heartbeat":
      return void out.event({ kind: "heartbeat" });
    case "subscriptions":
      return void out.event({ kind: "subscribed" });
    case "error": {
      const reason = typeof v.reason === "string" ? `: ${v.reason}` : "";
      return void out.event({
        kind: "error",
        message: errorText(undefined, `${str(v.message)}${reason}`),
      });
    }
    default:
      out.reject("unknown_event");
  }
}

function str(v: Json | undefined): string {
  return typeof v === "string" ? v : "";
}

function tradeOf(
  o: JsonObject,
  market: Market,
  receivedAt: number,
  out: ResultBuilder,
): RawTrade | null {
  return buildTrade(o, market, receivedAt, out, symbolIs(o.product_id, coinbaseProduct(market)));
}

function buildTrade(
  o: JsonObject,
  market: Market,
  receivedAt: number,
  out: ResultBuilder,
  symbol?: boolean | null,
): RawTrade | null {
  const reported = sideFrom(o.side, "BUY", "SELL") ?? sideFrom(o.side, "buy", "sell");
  return out.trade(market, receivedAt, {
    symbol,
    tradeId: o.trade_id instanceof JsonNumber ? idFromNumber(o.trade_id) : idFromString(o.trade_id),
    price: decimalFromString(o.price),
    size: decimalFromString(o.size),
    ts: msFromRfc3339(o.time),
    side: reported && (COINBASE_SIDE_IS_MAKER ? invertSide(reported) : reported),
  });
}

function parsePage(body: string, market: Market, receivedAt: number): ParseResult {
  const v = parseJson(body);
  if (v === undefined) return rejectOnly(body, "invalid_json");
  const out = new ResultBuilder(body);
  if (isObject(v) && "message" in v) {
    return out.event({ kind: "error", message: errorText(undefined, v.message) }).result();
  }
  if (!Array.isArray(v)) return out.reject("wrong_type").result();
  for (const row of v) {
    const t = isObject(row)
      ? buildTrade(row, market, receivedAt, out)
      : (out.reject("wrong_type"), null);
    if (t) out.trades.push(t);
  }
  sortByTradeId(out.trades);
  return out.result();
}

/** Coinbase Advanced Trade (and Exchange ws-feed) trades, Exchange REST backfill. */
export const coinbase: ExchangeAdapter = {
  name: "coinbase",
  defaultMarket: { base: "BTC", quote: "USD" },
  defaultWsUrl: "wss://advanced-trade-ws.coinbase.com",
  connectUrl: (baseUrl: string) => baseUrl,
  subscribeMessages(market: Market): string[] {
    const ids = JSON.stringify([coinbaseProduct(market)]);
    return [
      `{"type":"subscribe","product_ids":${ids},"channel":"market_trades"}`,
      `{"type":"subscribe","product_ids":${ids},"channel":"heartbeats"}`,
    ];
  },
  parse: parseMessage,
  // The heartbeats channel sends one message a second, so 10 s of silence means a dead link.
  keepAlive: { staleAfterMs: 10_000 },
  continuity: "contiguous",
  rest: {
    baseUrl: "https://api.exchange.coinbase.com",
    // Public endpoints: 10 requests/s per IP, bursts up to 15 (a lazy-fill token bucket).
    limits: {
      units: 10,
      windowMs: 1_000,
      pageCost: 1,
      source: "docs.cdp.coinbase.com/exchange/rest-api/rate-limits",
    },
    pagePath(market: Market, after: { tradeId: string; ts: number }): string {
      const cursor = isTradeIdText(after.tradeId)
        ? `after=${BigInt(after.tradeId) + BigInt(REST_PAGE + 1)}&`
        : "";
      return `/products/${coinbaseProduct(market)}/trades?${cursor}limit=${REST_PAGE}`;
    },
    parsePage,
  },
};
