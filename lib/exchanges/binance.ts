/**
 * Binance spot trade stream adapter (`<symbol>@trade`).
 *
 * - The URL selects the stream (`/ws/btcusdt@trade`), so nothing is sent after connecting; the
 *   combined-stream wrapping `{"stream":...,"data":{...}}` is accepted too.
 * - `m` is "buyer is the maker": `m:true` means the taker sold.
 * - Trade ids `t` are sequential per symbol (contiguous); REST `historicalTrades` (no API key since
 *   2023-07-11, `fromId` inclusive) backfills a gap by id.
 * - Binance answers an unknown symbol with silence, so only the stale watchdog catches it.
 * - The server pings every 20 s and drops a connection whose pong is over a minute late; a
 *   connection may receive at most 5 messages a second from the client, pongs, pings and
 *   subscribes included (more: disconnected, repeat offenders banned). `outboundLimit` makes the
 *   link pace every send (pongs first) under it. A `serverShutdown` event asks for an overlapping
 *   reconnect. Only `/api/v3` REST paths are used (`/api/v1` is retired).
 */

import type { ExchangeAdapter, ParseResult } from "./adapter.ts";
import { isObject, type Json, type JsonObject, parseJson } from "./_json.ts";
import {
  decimalFromString,
  errorText,
  idFromNumber,
  msFromNumber,
  rejectOnly,
  ResultBuilder,
  sortByTradeId,
  symbolIs,
} from "./_fields.ts";
import { isTradeIdText, type Market, type RawTrade } from "../trade.ts";

/** `BTCUSDT` for BTC-USDT. */
export function binanceSymbol(market: Market): string {
  return `${market.base}${market.quote}`;
}

function parseMessage(text: string, market: Market, receivedAt: number): ParseResult {
  const v = parseJson(text);
  if (v === undefined) return rejectOnly(text, "invalid_json");
  if (!isObject(v)) return rejectOnly(text, "wrong_type");
  const out = new ResultBuilder(text);
  let msg: JsonObject = v;
  if ("stream" in v && "data" in v) {
    if (typeof v.stream !== "string" || !isObject(v.data)) return out.reject("wrong_type").result();
    msg = v.data;
  }
  if ("e" in msg) {
    if (msg.e === "trade") {
      const t = tradeOf(msg, market, receivedAt, out);
      if (t) out.trades.push(t);
    } else if (msg.e === "serverShutdown") {
      out.event({ kind: "reconnect", reason: "binance serverShutdown" });
    } else {
      out.reject("unknown_event");
    }
  } else if ("result" in msg && "id" in msg) {
    if (msg.result === null) out.event({ kind: "subscribed" });
    else out.reject("unknown_event");
  } else if ("code" in msg && "msg" in msg) {
    out.event({ kind: "error", message: errorText(msg.code, msg.msg) });
  } else if (isObject(msg.error)) {
    out.event({ kind: "error", message: errorText(msg.error.code, msg.error.msg) });
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
  return buildTrade(
    symbolIs(o.s, binanceSymbol(market)),
    o.t,
    o.p,
    o.q,
    o.T,
    o.m,
    market,
    receivedAt,
    out,
  );
}

/** One trade from the fields of a stream message or a REST row (`m`: buyer is the maker). */
function buildTrade(
  symbol: boolean | undefined | null,
  id: Json | undefined,
  p: Json | undefined,
  q: Json | undefined,
  time: Json | undefined,
  buyerIsMaker: Json | undefined,
  market: Market,
  receivedAt: number,
  out: ResultBuilder,
): RawTrade | null {
  return out.trade(market, receivedAt, {
    symbol,
    tradeId: idFromNumber(id),
    price: decimalFromString(p),
    size: decimalFromString(q),
    ts: msFromNumber(time),
    side: typeof buyerIsMaker === "boolean" ? (buyerIsMaker ? "sell" : "buy") : null,
  });
}

function parsePage(body: string, market: Market, receivedAt: number): ParseResult {
  const v = parseJson(body);
  if (v === undefined) return rejectOnly(body, "invalid_json");
  const out = new ResultBuilder(body);
  if (isObject(v) && "code" in v) {
    return out.event({ kind: "error", message: errorText(v.code, v.msg) }).result();
  }
  if (!Array.isArray(v)) return out.reject("wrong_type").result();
  for (const row of v) {
    if (!isObject(row)) {
      out.reject("wrong_type");
      continue;
    }
    const t = buildTrade(
      undefined,
      row.id,
      row.price,
      row.qty,
      row.time,
      row.isBuyerMaker,
      market,
      receivedAt,
      out,
    );
    if (t) out.trades.push(t);
  }
  sortByTradeId(out.trades);
  return out.result();
}

/** Binance spot: raw trade stream, server pings, `historicalTrades` backfill. */
export const binance: ExchangeAdapter = {
  name: "binance",
  defaultMarket: { base: "BTC", quote: "USDT" },
  defaultWsUrl: "wss://stream.binance.com:9443",
  /** Raw stream URL; the base may be a host (`wss://host:9443`) or already end in `/ws`. */
  connectUrl(baseUrl: string, market: Market): string {
    const base = baseUrl.replace(/\/+$/, "").replace(/\/ws$/, "");
    return `${base}/ws/${binanceSymbol(market).toLowerCase()}@trade`;
  },
  subscribeMessages: () => [],
  parse: parseMessage,
  // The server pings every 20 s and the WebSocket layer answers; BTCUSDT trades several times a
  // second, so 30 s without a message means a dead link or an unknown symbol.
  keepAlive: { staleAfterMs: 30_000 },
  outboundLimit: {
    messages: 5,
    windowMs: 1_000,
    source:
      "developers.binance.com/docs/binance-spot-api-docs/web-socket-streams (WebSocket Limits)",
  },
  continuity: "contiguous",
  rest: {
    baseUrl: "https://api.binance.com",
    // REQUEST_WEIGHT 6000 per minute per IP (exchangeInfo `rateLimits`); historicalTrades
    // weighs 25 (binance-spot-api-docs, rest-api.md and CHANGELOG 2023-08-25).
    limits: {
      units: 6_000,
      windowMs: 60_000,
      pageCost: 25,
      source: "binance-spot-api-docs rest-api.md (REQUEST_WEIGHT, historicalTrades weight)",
    },
    pagePath(market: Market, after: { tradeId: string; ts: number }): string {
      const from = isTradeIdText(after.tradeId) ? `&fromId=${BigInt(after.tradeId) + 1n}` : "";
      return `/api/v3/historicalTrades?symbol=${binanceSymbol(market)}${from}&limit=1000`;
    },
    parsePage,
  },
};
