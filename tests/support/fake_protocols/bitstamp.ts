/**
 * Fake Bitstamp: `bts:subscribe` to `live_trades_<pair>` with `bts:subscription_succeeded` (or
 * `bts:error` for an unknown channel), one `trade` event per trade with numbers plus
 * `price_str`/`amount_str`, `bts:heartbeat` echo, and `bts:request_reconnect`. No REST history.
 */

import type { FakeProtocol, Reply, Session } from "./protocol.ts";
import { decimalText, type TapeEntry } from "./tape.ts";
import { clientJson } from "./_util.ts";
import type { Market } from "../../../lib/trade.ts";

const channel = (m: Market) => `live_trades_${m.base.toLowerCase()}${m.quote.toLowerCase()}`;

export const bitstampProtocol: FakeProtocol = {
  exchange: "bitstamp",
  wsBasePath: "",
  defaultMarket: { base: "BTC", quote: "USD" },
  numberStyle: "varied",
  defaultStartTradeId: 106_833_903n,
  defaultPerMessage: 1,
  maxPerMessage: 1,
  snapshotSize: 0,
  open: (): Reply => ({ send: [] }),
  message(text: string, market: Market, session: Session): Reply {
    const req = clientJson(text);
    if (req?.event === "bts:heartbeat") {
      return { send: [`{"event":"bts:heartbeat","channel":"","data":{"status":"success"}}`] };
    }
    const data = req?.data as { channel?: unknown } | undefined;
    if (req?.event === "bts:subscribe" && data?.channel === channel(market)) {
      session.subscribed = true;
      return {
        send: [`{"event":"bts:subscription_succeeded","channel":"${channel(market)}","data":{}}`],
      };
    }
    return {
      send: [
        `{"event":"bts:error","channel":"","data":{"code":null,"message":"Incorrect JSON format."}}`,
      ],
    };
  },
  encode(batch: TapeEntry[], market: Market): string {
    const e = batch[0];
    const p = decimalText(e.priceUnits, "varied", e.extraZeros);
    const a = decimalText(e.sizeUnits, "varied", e.extraZeros);
    return `{"data":{"id":${e.tradeId},"timestamp":"${
      Math.floor(e.tsMicros / 1e6)
    }","amount":${a},"amount_str":"${a}","price":${p},"price_str":"${p}","type":${
      e.side === "buy" ? 0 : 1
    },"microtimestamp":"${e.tsMicros}","buy_order_id":1207733769326592,"sell_order_id":1207733765476352},"channel":"${
      channel(market)
    }","event":"trade"}`;
  },
  maintenance: () => `{"event":"bts:request_reconnect","channel":"","data":{}}`,
  rest: () => null,
};
