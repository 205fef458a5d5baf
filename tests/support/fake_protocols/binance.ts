/**
 * Fake Binance spot: `/ws/<symbol>@trade` raw streams, `/stream?streams=` combined streams,
 * `SUBSCRIBE` on `/ws`, one trade per message, silence for unknown symbols (as Binance does),
 * `serverShutdown`, and `GET /api/v3/historicalTrades` (fromId inclusive, ascending). Each
 * connection may send at most 5 messages a second (pings, pongs and subscribes count; over it the
 * connection is dropped), and gets a ping every 20 s whose pong is due within a minute.
 */

import type { FakeProtocol, Reply, Session } from "./protocol.ts";
import { decimalText, type TapeEntry } from "./tape.ts";
import { firstAtLeast } from "./_util.ts";
import type { Market } from "../../../lib/trade.ts";

const symbol = (m: Market) => `${m.base}${m.quote}`;
const stream = (m: Market) => `${symbol(m).toLowerCase()}@trade`;

function tradeJson(e: TapeEntry, m: Market): string {
  const tradeMs = Math.floor(e.tsMicros / 1000);
  const p = decimalText(e.priceUnits, "fixed8");
  const q = decimalText(e.sizeUnits, "fixed8");
  // m: the buyer is the maker, i.e. the taker sold.
  return `{"e":"trade","E":${tradeMs + 1},"s":"${
    symbol(m)
  }","t":${e.tradeId},"p":"${p}","q":"${q}","T":${tradeMs},"m":${e.side === "sell"},"M":true}`;
}

export const binanceProtocol: FakeProtocol = {
  exchange: "binance",
  wsBasePath: "",
  defaultMarket: { base: "BTC", quote: "USDT" },
  numberStyle: "fixed8",
  defaultStartTradeId: 5_123_456_789n,
  defaultPerMessage: 1,
  maxPerMessage: 1,
  snapshotSize: 0,
  wsRules: {
    inboundLimit: { messages: 5, windowMs: 1_000 },
    pingMs: 20_000,
    pongTimeoutMs: 60_000,
  },
  open(url: URL, market: Market, session: Session): Reply | null {
    if (url.pathname === "/ws") return { send: [] };
    if (url.pathname.startsWith("/ws/")) {
      session.subscribed = url.pathname.slice(4) === stream(market);
      return { send: [] };
    }
    if (url.pathname === "/stream") {
      const streams = (url.searchParams.get("streams") ?? "").split("/");
      session.subscribed = streams.includes(stream(market));
      session.flags.combined = true;
      return { send: [] };
    }
    return null;
  },
  message(text: string, market: Market, session: Session): Reply {
    let req: { method?: unknown; params?: unknown; id?: unknown };
    try {
      req = JSON.parse(text);
    } catch {
      return { send: [`{"code":3,"msg":"Invalid JSON: expected value at line 1 column 1"}`] };
    }
    if (req.method !== "SUBSCRIBE" || !Array.isArray(req.params)) {
      return { send: [`{"code":2,"msg":"Invalid request: unknown method"}`] };
    }
    // Unknown streams are accepted and then stay silent.
    if (req.params.includes(stream(market))) session.subscribed = true;
    return { send: [JSON.stringify({ result: null, id: req.id ?? null })] };
  },
  encode(batch: TapeEntry[], market: Market, session: Session): string {
    const data = tradeJson(batch[0], market);
    return session.flags.combined ? `{"stream":"${stream(market)}","data":${data}}` : data;
  },
  maintenance(): string {
    return `{"e":"serverShutdown","E":${Date.now()}}`;
  },
  rest(url: URL, published: TapeEntry[], market: Market) {
    if (url.pathname !== "/api/v3/historicalTrades") return null;
    if (url.searchParams.get("symbol") !== symbol(market)) {
      return { status: 400, body: `{"code":-1121,"msg":"Invalid symbol."}` };
    }
    const limit = Math.min(1000, Number(url.searchParams.get("limit") ?? "500") || 500);
    const fromId = url.searchParams.get("fromId");
    let rows: TapeEntry[];
    if (fromId === null) rows = published.slice(-limit);
    else {
      const from = BigInt(fromId);
      const i = firstAtLeast(published, from, (e) => BigInt(e.tradeId));
      rows = published.slice(i, i + limit);
    }
    const body = rows.map((e) => {
      const p = decimalText(e.priceUnits, "fixed8");
      const q = decimalText(e.sizeUnits, "fixed8");
      return `{"id":${e.tradeId},"price":"${p}","qty":"${q}","quoteQty":"0","time":${
        Math.floor(e.tsMicros / 1000)
      },"isBuyerMaker":${e.side === "sell"},"isBestMatch":true}`;
    });
    return { status: 200, body: `[${body.join(",")}]` };
  },
};
