/**
 * Every backfill source and its live feed follow one taker-side rule: the same trade, as the
 * exchange documents it on the WebSocket and in REST history, parses to the same `side`.
 * (Coinbase Exchange REST and `matches` report the maker's side; Binance's `m`/`isBuyerMaker` is
 * "the buyer is the maker"; Kraken gives the taker's side in both; OKX documents `side` as "Trade
 * side of taker" on the `trades` channel and in `history-trades` alike.)
 */

import assert from "node:assert/strict";
import { ADAPTERS } from "../../lib/exchanges/registry.ts";
import type { Market } from "../../lib/trade.ts";

interface Case {
  exchange: string;
  market: Market;
  /** The trade on the live feed and in REST history; the taker sold in every case. */
  live: string[];
  rest: string;
}

const CASES: Case[] = [
  {
    exchange: "binance",
    market: { exchange: "binance", base: "BTC", quote: "USDT" },
    live: [
      `{"e":"trade","E":1785312345678,"s":"BTCUSDT","t":5123456789,"p":"117250.01000000","q":"0.00125000","T":1785312345677,"m":true,"M":true}`,
    ],
    rest:
      `[{"id":5123456789,"price":"117250.01000000","qty":"0.00125000","quoteQty":"146.56","time":1785312345677,"isBuyerMaker":true,"isBestMatch":true}]`,
  },
  {
    exchange: "coinbase",
    market: { exchange: "coinbase", base: "BTC", quote: "USD" },
    live: [
      `{"channel":"market_trades","client_id":"","timestamp":"2026-07-28T12:00:00.123456789Z","sequence_num":1,"events":[{"type":"update","trades":[{"trade_id":"82047307","product_id":"BTC-USD","price":"117250.01","size":"0.00513192","side":"BUY","time":"2026-07-28T12:00:00.123456Z"}]}]}`,
      `{"type":"match","trade_id":82047307,"maker_order_id":"a","taker_order_id":"b","side":"buy","size":"0.00513192","price":"117250.01","product_id":"BTC-USD","sequence":12038915443,"time":"2026-07-28T12:00:00.123456Z"}`,
    ],
    rest:
      `[{"time":"2026-07-28T12:00:00.123456Z","trade_id":82047307,"price":"117250.01","size":"0.00513192","side":"buy"}]`,
  },
  {
    exchange: "kraken",
    market: { exchange: "kraken", base: "BTC", quote: "USD" },
    live: [
      `{"channel":"trade","type":"update","data":[{"symbol":"BTC/USD","side":"sell","price":117250.1,"qty":0.0125,"ord_type":"market","trade_id":89123456,"timestamp":"2026-07-28T12:00:00.123456Z"}]}`,
    ],
    rest:
      `{"error":[],"result":{"XXBTZUSD":[["117250.10000","0.01250000",1785240000.123456,"s","m","",89123456]],"last":"1785240000123456000"}}`,
  },
  {
    exchange: "okx",
    market: { exchange: "okx", base: "BTC", quote: "USDT" },
    live: [
      `{"arg":{"channel":"trades","instId":"BTC-USDT"},"data":[{"instId":"BTC-USDT","tradeId":"242720720","px":"29963.2","sz":"0.00001","side":"sell","ts":"1654161646974","count":"1","source":"0","seqId":1234}]}`,
    ],
    rest:
      `{"code":"0","msg":"","data":[{"instId":"BTC-USDT","side":"sell","sz":"0.00001","source":"0","px":"29963.2","tradeId":"242720720","ts":"1654161646974"}]}`,
  },
];

for (const c of CASES) {
  Deno.test(`${c.exchange}: a backfilled trade and the same live trade agree on the taker's side`, () => {
    const adapter = ADAPTERS[c.exchange];
    const rest = adapter.rest!.parsePage(c.rest, c.market, 0);
    assert.deepEqual(rest.rejects, []);
    assert.equal(rest.trades.length, 1);
    for (const text of c.live) {
      const live = adapter.parse(text, c.market, 0);
      assert.deepEqual(live.rejects, [], text);
      assert.equal(live.trades.length, 1, text);
      assert.equal(live.trades[0].tradeId, rest.trades[0].tradeId);
      assert.equal(live.trades[0].side, rest.trades[0].side, text);
    }
    assert.equal(rest.trades[0].side, "sell", "the taker sold in each documented example");
  });
}
