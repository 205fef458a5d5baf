/**
 * Fake OKX v5 public at `/ws/v5/public`: `subscribe` to `trades` acked with `event:subscribe` (or
 * `event:error` 60018 for an unknown instrument), trade pushes with string fields and the taker
 * side, text `ping` answered by text `pong`, and notice 64008. No REST history.
 */

import type { FakeProtocol, Reply, Session } from "./protocol.ts";
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
    const data = batch.map((e) =>
      `{"instId":"${instId(market)}","tradeId":"${e.tradeId}","px":"${
        decimalText(e.priceUnits, "varied", e.extraZeros)
      }","sz":"${decimalText(e.sizeUnits, "varied", e.extraZeros)}","side":"${e.side}","ts":"${
        Math.floor(e.tsMicros / 1000)
      }","count":"1"}`
    );
    return `{"arg":{"channel":"trades","instId":"${instId(market)}"},"data":[${data.join(",")}]}`;
  },
  maintenance: () =>
    `{"event":"notice","code":"64008","msg":"The connection will soon be closed for a service upgrade. Please reconnect.",${CONN}}`,
  rest: () => null,
};
