/**
 * OKX v5 public `trades` channel adapter.
 *
 * - All numbers are strings; `side` is the taker's; `ts` is ms text.
 * - `trades` may aggregate fills of one taker order into one trade (`count` > 1) and `trades-all`
 *   needs a login, so trade ids are not treated as contiguous: disconnects are detected, gaps by id
 *   are not. No REST backfill for the same reason (paging by id cannot prove a gap closed).
 * - Keep-alive is the text `ping` answered by the text `pong` (a heartbeat, not invalid JSON); the
 *   server drops connections idle for 30 s. Notice `64008` announces an upgrade: reconnect.
 */

import type { ExchangeAdapter, ParseResult } from "./adapter.ts";
import { isObject, type JsonObject, parseJson } from "./_json.ts";
import {
  decimalFromString,
  errorText,
  idFromString,
  msFromString,
  rejectOnly,
  ResultBuilder,
  sideFrom,
  symbolIs,
} from "./_fields.ts";
import { type Market, type RawTrade } from "../trade.ts";

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
  return out.trade(market, receivedAt, {
    symbol: symbolIs(o.instId, okxInstId(market)),
    tradeId: idFromString(o.tradeId),
    price: decimalFromString(o.px),
    size: decimalFromString(o.sz),
    ts: msFromString(o.ts),
    side: sideFrom(o.side, "buy", "sell"),
  });
}

/** OKX public trades; text ping/pong keep-alive; no REST backfill. */
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
  continuity: "none",
};
