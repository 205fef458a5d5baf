/**
 * Kraken WebSocket v2 `trade` channel adapter.
 *
 * - Prices and quantities are JSON numbers: their exact text is kept (`117250.10` stays so).
 * - `side` is the taker's; `trade_id` is sequential per pair (contiguous); `timestamp` is RFC 3339
 *   with µs, truncated to ms.
 * - `status` messages report `system` (online, maintenance, cancel_only, post_only); `heartbeat`
 *   arrives about once a second when quiet; an ack with `success:false` is an error.
 * - REST backfill: `/0/public/Trades?pair=XBTUSD&since=<ns>` pages forward in time from `since`;
 *   the cursor starts 1 ms before the last trade seen, so a page may overlap (the sequencer drops
 *   repeats). Rows are `[price, volume, time, b|s, m|l, misc, trade_id]`, side is the taker's.
 */

import type { ExchangeAdapter, ParseResult, RestErrorKind } from "./adapter.ts";
import { isObject, type Json, JsonNumber, type JsonObject, parseJson } from "./_json.ts";
import {
  decimalFromNumber,
  decimalFromString,
  errorText,
  idFromNumber,
  msFromRfc3339,
  msFromSecondsText,
  rejectOnly,
  ResultBuilder,
  sideFrom,
  symbolIs,
} from "./_fields.ts";
import type { Market, RawTrade } from "../trade.ts";

/** `BTC/USD` for BTC-USD (WebSocket v2 naming). */
export function krakenSymbol(market: Market): string {
  return `${market.base}/${market.quote}`;
}

/** `XBTUSD` for BTC-USD (REST naming, where bitcoin is XBT). */
export function krakenRestPair(market: Market): string {
  const asset = (a: string) => (a === "BTC" ? "XBT" : a);
  return `${asset(market.base)}${asset(market.quote)}`;
}

function parseMessage(text: string, market: Market, receivedAt: number): ParseResult {
  const v = parseJson(text);
  if (v === undefined) return rejectOnly(text, "invalid_json");
  if (!isObject(v)) return rejectOnly(text, "wrong_type");
  const out = new ResultBuilder(text);
  if (typeof v.channel === "string") {
    channelMessage(v, market, receivedAt, out);
  } else if (typeof v.method === "string") {
    if (v.success === false) {
      out.event({ kind: "error", message: errorText(undefined, v.error) });
    } else if (v.method === "subscribe" && v.success === true) {
      const r = isObject(v.result) ? v.result : {};
      if (r.channel === "trade" && r.symbol === krakenSymbol(market)) {
        out.event({ kind: "subscribed" });
      }
    } else if (v.method === "pong") {
      out.event({ kind: "heartbeat" });
    } else if (v.method !== "unsubscribe") {
      out.reject("unknown_event");
    }
  } else {
    out.reject("unknown_event");
  }
  return out.result();
}

function channelMessage(
  v: JsonObject,
  market: Market,
  receivedAt: number,
  out: ResultBuilder,
): void {
  switch (v.channel) {
    case "heartbeat":
      out.event({ kind: "heartbeat" });
      return;
    case "status": {
      const d = Array.isArray(v.data) && isObject(v.data[0]) ? v.data[0] : null;
      if (d && typeof d.system === "string") out.event({ kind: "status", status: d.system });
      else out.reject("wrong_type");
      return;
    }
    case "trade":
      if (!Array.isArray(v.data)) return void out.reject("wrong_type");
      for (const t of v.data) {
        const trade = isObject(t)
          ? tradeOf(t, market, receivedAt, out)
          : (out.reject("wrong_type"), null);
        if (trade) out.trades.push(trade);
      }
      return;
    default:
      out.reject("unknown_event");
  }
}

function tradeOf(
  o: JsonObject,
  market: Market,
  receivedAt: number,
  out: ResultBuilder,
): RawTrade | null {
  return out.trade(market, receivedAt, {
    symbol: symbolIs(o.symbol, krakenSymbol(market)),
    tradeId: idFromNumber(o.trade_id),
    price: decimalFromNumber(o.price),
    size: decimalFromNumber(o.qty),
    ts: msFromRfc3339(o.timestamp),
    side: sideFrom(o.side, "buy", "sell"),
  });
}

function parsePage(body: string, market: Market, receivedAt: number): ParseResult {
  const v = parseJson(body);
  if (v === undefined) return rejectOnly(body, "invalid_json");
  if (!isObject(v)) return rejectOnly(body, "wrong_type");
  const out = new ResultBuilder(body);
  if (Array.isArray(v.error) && v.error.length > 0) {
    return out.event({ kind: "error", message: errorText(undefined, v.error.join("; ")) }).result();
  }
  const result = isObject(v.result) ? v.result : null;
  const key = result && Object.keys(result).find((k) => k !== "last");
  const rows = key ? result[key] : undefined;
  if (!Array.isArray(rows)) return out.reject("wrong_type").result();
  for (const row of rows) {
    const t = Array.isArray(row)
      ? restRow(row, market, receivedAt, out)
      : (out.reject("wrong_type"), null);
    if (t) out.trades.push(t);
  }
  return out.result();
}

function restRow(
  row: Json[],
  market: Market,
  receivedAt: number,
  out: ResultBuilder,
): RawTrade | null {
  const [p, q, time, s, , , id] = row;
  return out.trade(market, receivedAt, {
    tradeId: idFromNumber(id),
    price: decimalFromString(p),
    size: decimalFromString(q),
    ts: time instanceof JsonNumber ? msFromSecondsText(time.text) : null,
    side: sideFrom(s, "b", "s"),
  });
}

/**
 * Kraken REST errors come inside HTTP 200 bodies: rate limits (`EAPI:Rate limit exceeded`,
 * `EGeneral:Too many requests`, `EGeneral:Temporary lockout`) are waited out, `EService:*`
 * (unavailable, busy, deadline elapsed) is retried, anything else (`EQuery:Unknown asset pair`)
 * is permanent.
 */
export function krakenErrorKind(message: string): RestErrorKind {
  if (
    /EAPI:Rate limit exceeded|EGeneral:Too many requests|EGeneral:Temporary lockout/.test(message)
  ) {
    return "rate_limited";
  }
  if (/EService:/.test(message)) return "transient";
  return "permanent";
}

/** Kraken WebSocket v2 trades with REST backfill by time. */
export const kraken: ExchangeAdapter = {
  name: "kraken",
  defaultMarket: { base: "BTC", quote: "USD" },
  defaultWsUrl: "wss://ws.kraken.com/v2",
  connectUrl: (baseUrl: string) => baseUrl,
  subscribeMessages: (market: Market) => [
    JSON.stringify({
      method: "subscribe",
      params: { channel: "trade", symbol: [krakenSymbol(market)], snapshot: true },
      req_id: 1,
    }),
  ],
  parse: parseMessage,
  // Kraken sends a heartbeat about once a second when nothing else is sent.
  keepAlive: { staleAfterMs: 10_000 },
  continuity: "contiguous",
  rest: {
    baseUrl: "https://api.kraken.com",
    // Public endpoints: about one call per second per IP; over it, an error inside HTTP 200.
    limits: {
      units: 1,
      windowMs: 1_000,
      pageCost: 1,
      source:
        "support.kraken.com 206548367 (API rate limits), docs.kraken.com spot-rest-ratelimits",
    },
    errorKind: krakenErrorKind,
    pagePath(market: Market, after: { tradeId: string; ts: number }): string {
      const ms = Number.isSafeInteger(after.ts) ? Math.max(0, after.ts - 1) : 0;
      const sinceNs = BigInt(ms) * 1_000_000n;
      return `/0/public/Trades?pair=${krakenRestPair(market)}&since=${sinceNs}&count=1000`;
    },
    parsePage,
  },
};
