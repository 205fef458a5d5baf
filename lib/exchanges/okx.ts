/**
 * OKX v5 public `trades` channel adapter, with REST backfill from `history-trades`.
 *
 * - All numbers are strings; `side` is the taker's (live and REST alike: both documented as
 *   "Trade side of taker"); `ts` is ms text.
 * - `trades` sends one message per taker order and price: `count` fills with the consecutive ids
 *   `tradeId - count + 1` to `tradeId` (OKX docs, "Aggregation function description"), `sz` their
 *   sum. The trade carries `fills = count`, so the sequencer tells an aggregate from a gap.
 * - Trade ids are treated as sequential per instrument (contiguous). OKX states consecutive ids
 *   only for the fills of one aggregate; per-instrument continuity is inferred from that rule and
 *   the documented examples, not stated. If it were wrong, a gap would be backfilled by id and
 *   recorded with what REST did not have as missing: never invented trades.
 * - REST backfill: `GET /api/v5/market/history-trades?type=1&before=<last>&after=<last + 101>`
 *   returns the trades with ids strictly between (newest first, at most 100): exactly the next 100
 *   ids. It keeps the last 3 months; 20 requests per 2 s per IP. Its rows are single fills (no
 *   `count`), so a backfilled gap and the live aggregates around it never cover an id twice.
 *   OKX answers from one of several caches, so a page may lag the live feed by a moment: an empty
 *   page at the live edge ends the backfill (the rest is recorded missing, exactly).
 * - Keep-alive is the text `ping` answered by the text `pong` (a heartbeat, not invalid JSON); the
 *   server drops connections idle for 30 s. Notice `64008` announces an upgrade: reconnect.
 */

import type { ExchangeAdapter, ParseResult, RestErrorKind } from "./adapter.ts";
import { isObject, type JsonObject, parseJson } from "./_json.ts";
import {
  decimalFromString,
  errorText,
  idFromString,
  msFromString,
  rejectOnly,
  ResultBuilder,
  sideFrom,
  sortByTradeId,
  symbolIs,
} from "./_fields.ts";
import { isTradeIdText, type Market, type RawTrade } from "../trade.ts";

/** Rows of one `history-trades` page (the endpoint's maximum). */
const REST_PAGE = 100;

/** `BTC-USDT` for BTC-USDT. */
export function okxInstId(market: Market): string {
  return `${market.base}-${market.quote}`;
}

function parseMessage(text: string, market: Market, receivedAt: number): ParseResult {
  if (text === "pong") return { trades: [], events: [{ kind: "heartbeat" }], rejects: [] };
  const v = parseJson(text);
  if (v === undefined) return rejectOnly(text, "invalid_json");
  if (!isObject(v)) return rejectOnly(text, "wrong_type");
  const out = new ResultBuilder(text);
  if (isObject(v.arg) && "data" in v) {
    if (v.arg.channel !== "trades") return out.reject("unknown_event").result();
    if (!Array.isArray(v.data)) return out.reject("wrong_type").result();
    if (v.arg.instId !== okxInstId(market)) return out.reject("wrong_market").result();
    for (const t of v.data) {
      const trade = isObject(t)
        ? tradeOf(t, market, receivedAt, out)
        : (out.reject("wrong_type"), null);
      if (trade) out.trades.push(trade);
    }
    return out.result();
  }
  switch (v.event) {
    case "subscribe":
      if (isObject(v.arg) && v.arg.channel === "trades" && v.arg.instId === okxInstId(market)) {
        out.event({ kind: "subscribed" });
      }
      break;
    case "unsubscribe":
      break;
    case "error":
      out.event({ kind: "error", message: errorText(v.code, v.msg) });
      break;
    case "notice":
      if (v.code === "64008") {
        out.event({ kind: "reconnect", reason: `okx notice 64008: ${str(v.msg)}` });
      } else out.event({ kind: "status", status: errorText(v.code, v.msg) });
      break;
    default:
      out.reject("unknown_event");
  }
  return out.result();
}

function str(v: unknown): string {
  return typeof v === "string" ? v.slice(0, 150) : "";
}

function tradeOf(
  o: JsonObject,
  market: Market,
  receivedAt: number,
  out: ResultBuilder,
): RawTrade | null {
  // `count` (live only): fills aggregated; absent means one. Anything else makes the ids unknown.
  const fills = o.count === undefined ? 1 : countOf(o.count);
  const trade = out.trade(market, receivedAt, {
    symbol: symbolIs(o.instId, okxInstId(market)),
    tradeId: fills === null ? null : idFromString(o.tradeId),
    price: decimalFromString(o.px),
    size: decimalFromString(o.sz),
    ts: msFromString(o.ts),
    side: sideFrom(o.side, "buy", "sell"),
  });
  if (trade && fills !== null && fills > 1) {
    if (BigInt(trade.tradeId) < BigInt(fills - 1)) return (out.reject("bad_trade_id"), null);
    trade.fills = fills;
  }
  return trade;
}

/** A positive `count` text (at most 1e6, far above any order's fills), or null. */
function countOf(v: unknown): number | null {
  if (typeof v !== "string" || !/^[1-9][0-9]{0,5}$/.test(v)) return null;
  return Number(v);
}

function parsePage(body: string, market: Market, receivedAt: number): ParseResult {
  const v = parseJson(body);
  if (v === undefined) return rejectOnly(body, "invalid_json");
  if (!isObject(v)) return rejectOnly(body, "wrong_type");
  const out = new ResultBuilder(body);
  if (v.code !== "0") {
    return out.event({ kind: "error", message: errorText(v.code, v.msg) }).result();
  }
  if (!Array.isArray(v.data)) return out.reject("wrong_type").result();
  for (const row of v.data) {
    const t = isObject(row)
      ? tradeOf(row, market, receivedAt, out)
      : (out.reject("wrong_type"), null);
    if (t) out.trades.push(t);
  }
  sortByTradeId(out.trades);
  return out.result();
}

/**
 * OKX REST error codes (in the body, with HTTP 200 or 429): 50011 "Rate limit reached" and
 * 50061 (order rate limit) are waited out; 50001 (service unavailable), 50004 (endpoint
 * timeout), 50013 (systems busy) and 50026 (system error) are retried; anything else
 * (51001 "Instrument ID does not exist") is permanent.
 */
export function okxErrorKind(message: string): RestErrorKind {
  if (/^(50011|50061)\b/.test(message)) return "rate_limited";
  if (/^(50001|50004|50013|50026)\b/.test(message)) return "transient";
  return "permanent";
}

/** OKX public trades; text ping/pong keep-alive; `history-trades` backfill by trade id. */
export const okx: ExchangeAdapter = {
  name: "okx",
  defaultMarket: { base: "BTC", quote: "USDT" },
  defaultWsUrl: "wss://ws.okx.com:8443/ws/v5/public",
  connectUrl: (baseUrl: string) => baseUrl,
  subscribeMessages: (market: Market) => [
    JSON.stringify({ op: "subscribe", args: [{ channel: "trades", instId: okxInstId(market) }] }),
  ],
  parse: parseMessage,
  // The server closes connections idle for 30 s: ping every 15 s; two missed pongs mean dead.
  keepAlive: { clientMessage: { text: "ping", intervalMs: 15_000 }, staleAfterMs: 35_000 },
  continuity: "contiguous",
  rest: {
    baseUrl: "https://www.okx.com",
    limits: {
      units: 20,
      windowMs: 2_000,
      pageCost: 1,
      source: "www.okx.com/docs-v5/en/#order-book-trading-market-data-get-trades-history",
    },
    errorKind: okxErrorKind,
    pagePath(market: Market, after: { tradeId: string; ts: number }): string {
      const q = `/api/v5/market/history-trades?instId=${okxInstId(market)}&type=1`;
      if (!isTradeIdText(after.tradeId)) return `${q}&limit=${REST_PAGE}`;
      const end = BigInt(after.tradeId) + BigInt(REST_PAGE + 1);
      return `${q}&before=${after.tradeId}&after=${end}&limit=${REST_PAGE}`;
    },
    parsePage,
  },
};
