/**
 * Fake OKX v5 public at `/ws/v5/public`: `subscribe` to `trades` acked with `event:subscribe` (or
 * `event:error` 60018 for an unknown instrument), trade pushes with string fields and the taker
 * side, text `ping` answered by text `pong`, and notice 64008. REST as documented for v5 market
 * data: `GET /api/v5/market/history-trades` (type 1: `after` = ids below, `before` = ids above,
 * both = strictly between, `before` alone = the newest; type 2: `after` = earlier than a ms time;
 * newest first, at most 100) and `GET /api/v5/market/trades` (the newest, up to 500). Rows carry
 * the taker's `side`; errors are `{"code":"<n>","msg":..,"data":[]}`; over the rate limit it
 * answers HTTP 429 with code 50011 and no Retry-After (OKX has no ban code: a ban looks the same).
 */

import type { FakeProtocol, Reply, RestResponse, Session } from "./protocol.ts";
import { decimalText, type TapeEntry } from "./tape.ts";
import { clientJson } from "./_util.ts";
import type { Market } from "../../../lib/trade.ts";

const instId = (m: Market) => `${m.base}-${m.quote}`;
const CONN = `"connId":"a4d3ae55"`;

export const okxProtocol: FakeProtocol = {
  exchange: "okx",
  wsBasePath: "/ws/v5/public",
  defaultMarket: { base: "BTC", quote: "USDT" },
  numberStyle: "varied",
  defaultStartTradeId: 216_970_876n,
  defaultPerMessage: 1,
  maxPerMessage: 10,
  snapshotSize: 0,
  open: (url: URL): Reply | null => (url.pathname === "/ws/v5/public" ? { send: [] } : null),
  message(text: string, market: Market, session: Session): Reply {
    if (text === "ping") return { send: ["pong"] };
    const req = clientJson(text);
    const arg = Array.isArray(req?.args)
      ? req.args[0] as { channel?: unknown; instId?: unknown }
      : undefined;
    if (req?.op !== "subscribe" || arg?.channel !== "trades") {
      return {
        send: [
          `{"event":"error","code":"60012","msg":"Invalid request: ${
            text.slice(0, 40).replace(/"/g, "'")
          }",${CONN}}`,
        ],
      };
    }
    if (arg.instId !== instId(market)) {
      return {
        send: [
          `{"event":"error","code":"60018","msg":"Wrong URL or channel:trades,instId:${
            String(arg.instId).slice(0, 20)
          } doesn't exist.",${CONN}}`,
        ],
      };
    }
    session.subscribed = true;
    return {
      send: [
        `{"event":"subscribe","arg":{"channel":"trades","instId":"${instId(market)}"},${CONN}}`,
      ],
    };
  },
  encode(batch: TapeEntry[], market: Market): string {
    const data = batch.map((e) => row(e, market, `,"count":"1"`));
    return `{"arg":{"channel":"trades","instId":"${instId(market)}"},"data":[${data.join(",")}]}`;
  },
  maintenance: () =>
    `{"event":"notice","code":"64008","msg":"The connection will soon be closed for a service upgrade. Please reconnect.",${CONN}}`,
  rateLimitReplies: { rateLimited: rateLimitReply, banned: rateLimitReply },
  rest(url: URL, published: TapeEntry[], market: Market): RestResponse | null {
    const latest = url.pathname === "/api/v5/market/trades";
    if (!latest && url.pathname !== "/api/v5/market/history-trades") return null;
    if (url.searchParams.get("instId") !== instId(market)) {
      return okxError("51001", "Instrument ID does not exist");
    }
    const limit = Math.min(latest ? 500 : 100, Number(url.searchParams.get("limit") ?? 100) || 100);
    const rows = latest ? published.slice(-limit) : historyRows(url, published, limit);
    if (!rows) return okxError("51000", "Parameter after error");
    const data = rows.reverse().map((e) => row(e, market, `,"source":"0"`));
    return { status: 200, body: `{"code":"0","msg":"","data":[${data.join(",")}]}` };
  },
};

function row(e: TapeEntry, market: Market, extra: string): string {
  return `{"instId":"${instId(market)}","tradeId":"${e.tradeId}","px":"${
    decimalText(e.priceUnits, "varied", e.extraZeros)
  }","sz":"${decimalText(e.sizeUnits, "varied", e.extraZeros)}","side":"${e.side}","ts":"${
    Math.floor(e.tsMicros / 1000)
  }"${extra}}`;
}

/** The page's rows, oldest first (the caller reverses them); null for a bad cursor. */
function historyRows(url: URL, published: TapeEntry[], limit: number): TapeEntry[] | null {
  const after = url.searchParams.get("after");
  const before = url.searchParams.get("before");
  const num = (v: string | null) => (v !== null && /^[0-9]+$/.test(v) ? BigInt(v) : null);
  if ((after !== null && num(after) === null) || (before !== null && num(before) === null)) {
    return null;
  }
  if (url.searchParams.get("type") === "2") {
    const until = num(after);
    return published.filter((e) => until === null || BigInt(Math.floor(e.tsMicros / 1000)) < until)
      .slice(-limit);
  }
  const hi = num(after), lo = num(before);
  const inRange = published.filter((e) => {
    const id = BigInt(e.tradeId);
    return (hi === null || id < hi) && (lo === null || id > lo);
  });
  // Newest first, so the page holds the `limit` newest of the range.
  return inRange.slice(-limit);
}

function okxError(code: string, msg: string): RestResponse {
  return { status: 200, body: `{"code":"${code}","msg":"${msg}","data":[]}` };
}

function rateLimitReply(): RestResponse {
  return {
    status: 429,
    body:
      `{"code":"50011","msg":"Rate limit reached. Please refer to API documentation and throttle requests accordingly","data":[]}`,
  };
}
