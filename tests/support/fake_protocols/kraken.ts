/**
 * Fake Kraken WebSocket v2 at `/v2`: a `status` message on connect, `subscribe` acks (success or
 * `success:false` with `error`), a 50-trade snapshot, `trade` updates with JSON-number prices and
 * quantities, `heartbeat` every second, `ping`/`pong`, `status: maintenance`, and REST
 * `/0/public/Trades?pair=XBTUSD&since=<ns>` (trades after `since`, ascending, with `last`).
 * REST decimals use the same text as the WebSocket feed (real Kraken pads REST decimals, which the
 * adapter keeps as sent) so that backfilled trades equal the tape field by field.
 */

import type { FakeProtocol, Reply, Session } from "./protocol.ts";
import { decimalText, rfc3339, type TapeEntry } from "./tape.ts";
import { clientJson } from "./_util.ts";
import type { Market } from "../../../lib/trade.ts";

const symbol = (m: Market) => `${m.base}/${m.quote}`;
const restPair = (m: Market) => `${m.base === "BTC" ? "XBT" : m.base}${m.quote}`;
const price = (e: TapeEntry) => decimalText(e.priceUnits, "varied", e.extraZeros);
const qty = (e: TapeEntry) => decimalText(e.sizeUnits, "varied", e.extraZeros);
const stamp = () => new Date().toISOString().replace("Z", "000Z");

function status(system: string): string {
  return `{"channel":"status","type":"update","data":[{"version":"2.0.10","system":"${system}","api_version":"v2","connection_id":1234567890}]}`;
}

export const krakenProtocol: FakeProtocol = {
  exchange: "kraken",
  wsBasePath: "/v2",
  defaultMarket: { base: "BTC", quote: "USD" },
  numberStyle: "varied",
  defaultStartTradeId: 89_123_456n,
  defaultPerMessage: 3,
  maxPerMessage: 100,
  heartbeatMs: 1000,
  snapshotSize: 50,
  open: (url: URL): Reply | null => (url.pathname === "/v2" ? { send: [status("online")] } : null),
  message(text: string, market: Market, session: Session): Reply {
    const req = clientJson(text);
    const reqId = typeof req?.req_id === "number" ? `,"req_id":${req.req_id}` : "";
    const times = `"time_in":"${stamp()}","time_out":"${stamp()}"`;
    if (req?.method === "ping") return { send: [`{"method":"pong"${reqId},${times}}`] };
    const params = req?.params as
      | { channel?: unknown; symbol?: unknown; snapshot?: unknown }
      | undefined;
    if (
      req?.method !== "subscribe" || params?.channel !== "trade" || !Array.isArray(params.symbol)
    ) {
      return {
        send: [
          `{"error":"EGeneral:Invalid arguments","method":"${
            req?.method ?? ""
          }","success":false${reqId},${times}}`,
        ],
      };
    }
    if (!params.symbol.includes(symbol(market))) {
      const s = String(params.symbol[0]).slice(0, 20);
      return {
        send: [
          `{"error":"Currency pair not supported ${s}","method":"subscribe","success":false,"symbol":"${s}"${reqId},${times}}`,
        ],
      };
    }
    session.subscribed = true;
    session.heartbeats = true;
    return {
      send: [
        `{"method":"subscribe","result":{"channel":"trade","snapshot":true,"symbol":"${
          symbol(market)
        }"},"success":true${reqId},${times}}`,
      ],
      snapshot: params.snapshot !== false,
    };
  },
  encode(batch: TapeEntry[], market: Market, _s: Session, snapshot: boolean): string {
    const data = batch.map((e) =>
      `{"symbol":"${symbol(market)}","side":"${e.side}","price":${price(e)},"qty":${
        qty(e)
      },"ord_type":"${
        e.extraZeros === 0 ? "limit" : "market"
      }","trade_id":${e.tradeId},"timestamp":"${rfc3339(e.tsMicros, 6)}"}`
    );
    return `{"channel":"trade","type":"${snapshot ? "snapshot" : "update"}","data":[${
      data.join(",")
    }]}`;
  },
  heartbeat: () => `{"channel":"heartbeat"}`,
  maintenance: () => status("maintenance"),
  // Kraken answers over-limit calls with HTTP 200 and an error body, without Retry-After.
  rateLimitReplies: {
    rateLimited: () => ({ status: 200, body: `{"error":["EGeneral:Too many requests"]}` }),
    banned: () => ({ status: 200, body: `{"error":["EGeneral:Temporary lockout"]}` }),
  },
  rest(url: URL, published: TapeEntry[], market: Market) {
    if (url.pathname !== "/0/public/Trades") return null;
    if (url.searchParams.get("pair") !== restPair(market)) {
      return { status: 200, body: `{"error":["EQuery:Unknown asset pair"]}` };
    }
    const since = BigInt(url.searchParams.get("since") ?? "0");
    const count = Math.min(1000, Number(url.searchParams.get("count") ?? "1000") || 1000);
    const rows = published.filter((e) => BigInt(e.tsMicros) * 1000n > since).slice(0, count);
    const body = rows.map((e) => {
      const secs = `${Math.floor(e.tsMicros / 1e6)}.${String(e.tsMicros % 1e6).padStart(6, "0")}`;
      return `["${price(e)}","${qty(e)}",${secs},"${e.side[0]}","l","",${e.tradeId}]`;
    });
    const last = rows.length
      ? String(BigInt(rows[rows.length - 1].tsMicros) * 1000n)
      : String(since);
    return {
      status: 200,
      body: `{"error":[],"result":{"XXBTZUSD":[${body.join(",")}],"last":"${last}"}}`,
    };
  },
};
