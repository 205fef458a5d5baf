/**
 * Fake Bybit v5 public spot at `/v5/public/spot`: `subscribe` to `publicTrade.<SYMBOL>` acked with
 * `success:true` (or `success:false` for an unknown symbol), batched trade snapshots with string
 * fields, the taker side `S` and the booleans `BT` (block trade) and `RPI` (retail price
 * improvement) from the tape entry's flags, and `{"op":"ping"}` answered with a pong. No REST
 * history.
 */

import type { FakeProtocol, Reply, Session } from "./protocol.ts";
import { decimalText, type TapeEntry } from "./tape.ts";
import { clientJson } from "./_util.ts";
import type { Market } from "../../../lib/trade.ts";

const symbol = (m: Market) => `${m.base}${m.quote}`;
const CONN = `"conn_id":"cejreaspqfh3sjdnldmg-p"`;

export const bybitProtocol: FakeProtocol = {
  exchange: "bybit",
  wsBasePath: "/v5/public/spot",
  defaultMarket: { base: "BTC", quote: "USDT" },
  numberStyle: "varied",
  defaultStartTradeId: 2_290_000_000_123_456_789n,
  defaultPerMessage: 4,
  maxPerMessage: 1024,
  snapshotSize: 0,
  carriesFlags: true,
  open: (url: URL): Reply | null => (url.pathname === "/v5/public/spot" ? { send: [] } : null),
  message(text: string, market: Market, session: Session): Reply {
    const req = clientJson(text);
    const reqId = typeof req?.req_id === "string" ? `"req_id":${JSON.stringify(req.req_id)},` : "";
    if (req?.op === "ping") {
      return { send: [`{"success":true,"ret_msg":"pong",${CONN},${reqId}"op":"ping"}`] };
    }
    const args = Array.isArray(req?.args) ? req.args : [];
    if (req?.op === "subscribe" && args.includes(`publicTrade.${symbol(market)}`)) {
      session.subscribed = true;
      return { send: [`{"success":true,"ret_msg":"subscribe",${CONN},${reqId}"op":"subscribe"}`] };
    }
    const what = String(args[0] ?? "").slice(0, 30).replace(/"/g, "'");
    return {
      send: [
        `{"success":false,"ret_msg":"Invalid symbol :[${what}]",${CONN},${reqId}"op":"subscribe"}`,
      ],
    };
  },
  encode(batch: TapeEntry[], market: Market): string {
    const data = batch.map((e) => {
      const marks = `"BT":${!!e.flags?.includes("block")},"RPI":${!!e.flags?.includes("rpi")}`;
      return `{"T":${Math.floor(e.tsMicros / 1000)},"s":"${symbol(market)}","S":"${
        e.side === "buy" ? "Buy" : "Sell"
      }","v":"${decimalText(e.sizeUnits, "varied", e.extraZeros)}","p":"${
        decimalText(e.priceUnits, "varied", e.extraZeros)
      }","i":"${e.tradeId}",${marks}}`;
    });
    return `{"topic":"publicTrade.${symbol(market)}","type":"snapshot","ts":${Date.now()},"data":[${
      data.join(",")
    }]}`;
  },
  rest: () => null,
};
