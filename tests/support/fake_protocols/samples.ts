/**
 * Offline samples of each exchange's wire messages, rendered by the fake protocols: trade messages
 * for a deterministic tape (with the normalized trades they stand for), the protocol's control
 * messages, and REST pages. Used by the fuzz test and the parse benchmark.
 */

import { type Market, type RawTrade } from "../../../lib/trade.ts";
import { normalizedTape } from "../fake_exchange.ts";
import { FAKE_PROTOCOLS } from "./all.ts";
import type { Session } from "./protocol.ts";
import { makeTape } from "./tape.ts";

export interface Samples {
  market: Market;
  /** Trade messages in publication order. */
  messages: string[];
  /** The normalized trades of each message, same index as `messages`. */
  trades: RawTrade[][];
  /** Acks, heartbeats, errors and notices the protocol sends. */
  control: string[];
  /** A REST page of the whole tape, when the protocol serves history. */
  restPage?: string;
}

/** Renders `count` trades of `exchange` in messages of `perMessage` (capped by the protocol). */
export function sampleMessages(
  exchange: string,
  count: number,
  perMessage?: number,
  seed = 7,
): Samples {
  const p = FAKE_PROTOCOLS[exchange];
  const market: Market = { exchange, ...p.defaultMarket };
  const tape = makeTape({
    count,
    startTradeId: p.defaultStartTradeId,
    seed,
    startMicros: 1_785_312_345_677_000,
  });
  const normalized = normalizedTape(p, tape, market);
  const n = Math.max(1, Math.min(perMessage ?? p.defaultPerMessage, p.maxPerMessage));
  const session = (): Session => ({ subscribed: true, heartbeats: true, flags: {} });
  const s = session();
  const messages: string[] = [];
  const trades: RawTrade[][] = [];
  for (let i = 0; i < tape.length; i += n) {
    messages.push(p.encode(tape.slice(i, i + n), market, s, false));
    trades.push(normalized.slice(i, i + n));
  }
  const control: string[] = [];
  const bad = { ...market, base: "NOPE" };
  for (const [m, sub] of [[market, true], [bad, false]] as const) {
    const probe = session();
    const open = p.open(new URL(`http://fake${p.wsBasePath || "/ws"}`), market, probe);
    control.push(...(open?.send ?? []));
    for (const text of subscribeProbe(exchange, m)) {
      control.push(...p.message(text, market, probe).send);
    }
    if (sub && p.heartbeat) control.push(p.heartbeat(market, probe));
  }
  if (p.maintenance) control.push(p.maintenance(market));
  const rest = p.rest(new URL(`http://fake${restProbe(exchange)}`), tape, market);
  return {
    market,
    messages,
    trades,
    control,
    restPage: rest?.status === 200 ? rest.body : undefined,
  };
}

function subscribeProbe(exchange: string, m: Market): string[] {
  const pair = `${m.base}-${m.quote}`;
  switch (exchange) {
    case "binance":
      return [
        `{"method":"SUBSCRIBE","params":["${m.base.toLowerCase()}${m.quote.toLowerCase()}@trade"],"id":1}`,
      ];
    case "coinbase":
      return ["market_trades", "heartbeats"].map((c) =>
        `{"type":"subscribe","product_ids":["${pair}"],"channel":"${c}"}`
      );
    case "kraken":
      return [
        `{"method":"subscribe","params":{"channel":"trade","symbol":["${m.base}/${m.quote}"],"snapshot":false},"req_id":1}`,
        `{"method":"ping","req_id":2}`,
      ];
    case "bitstamp":
      return [
        `{"event":"bts:subscribe","data":{"channel":"live_trades_${m.base.toLowerCase()}${m.quote.toLowerCase()}"}}`,
        `{"event":"bts:heartbeat"}`,
      ];
    case "okx":
      return [`{"op":"subscribe","args":[{"channel":"trades","instId":"${pair}"}]}`, "ping"];
    case "bybit":
      return [
        `{"req_id":"1","op":"subscribe","args":["publicTrade.${m.base}${m.quote}"]}`,
        `{"op":"ping"}`,
      ];
    default:
      return [];
  }
}

function restProbe(exchange: string): string {
  switch (exchange) {
    case "binance":
      return "/api/v3/historicalTrades?symbol=BTCUSDT&fromId=0&limit=1000";
    case "coinbase":
      return "/products/BTC-USD/trades?limit=1000";
    case "kraken":
      return "/0/public/Trades?pair=XBTUSD&since=0";
    default:
      return "/none";
  }
}
