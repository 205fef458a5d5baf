import assert from "node:assert/strict";
import { coinbase } from "../../lib/exchanges/coinbase.ts";
import type { Market } from "../../lib/trade.ts";
import { startFakeExchange } from "../support/fake_exchange.ts";
import { collect } from "./_fake_client.ts";

const M: Market = { exchange: "coinbase", base: "BTC", quote: "USD" };
const AT_TRADES =
  `{"channel":"market_trades","client_id":"","timestamp":"2026-07-28T12:00:00.396251351Z","sequence_num":7,"events":[{"type":"update","trades":[` +
  `{"trade_id":"995098663","product_id":"BTC-USD","price":"117250.10","size":"0.00064","side":"SELL","time":"2026-07-28T12:00:00.250358Z"},` +
  `{"trade_id":"995098662","product_id":"BTC-USD","price":"117250.01","size":"0.00123858","side":"BUY","time":"2026-07-28T12:00:00.250358Z"}]}]}`;
const MATCH =
  `{"type":"match","trade_id":82047307,"maker_order_id":"ac928c66","taker_order_id":"132fb6ae","side":"sell","size":"0.00513192","price":"9314.78","product_id":"BTC-USD","sequence":12038915443,"time":"2020-01-31T20:03:41.158814Z"}`;

Deno.test("coinbase: an Advanced Trade batch comes out in id order with the taker's side", () => {
  const r = coinbase.parse(AT_TRADES, M, 5);
  assert.deepEqual(r.rejects, []);
  const ts = Date.UTC(2026, 6, 28, 12, 0, 0, 250);
  assert.deepEqual(r.trades, [
    {
      market: "coinbase:BTC-USD",
      tradeId: "995098662",
      price: "117250.01",
      size: "0.00123858",
      side: "sell",
      ts,
      receivedAt: 5,
    },
    {
      market: "coinbase:BTC-USD",
      tradeId: "995098663",
      price: "117250.10",
      size: "0.00064",
      side: "buy",
      ts,
      receivedAt: 5,
    },
  ]);
});

Deno.test("coinbase: an Exchange match reports the maker's side, so the taker bought", () => {
  const r = coinbase.parse(MATCH, M, 1);
  assert.deepEqual(r.trades.map((t) => [t.tradeId, t.price, t.size, t.side, t.ts]), [
    ["82047307", "9314.78", "0.00513192", "buy", Date.UTC(2020, 0, 31, 20, 3, 41, 158)],
  ]);
  assert.equal(
    coinbase.parse(MATCH.replace(`"type":"match"`, `"type":"last_match"`), M, 1).trades.length,
    1,
  );
});

Deno.test("coinbase: subscriptions, heartbeats and errors become events", () => {
  const subs =
    `{"channel":"subscriptions","client_id":"","timestamp":"2026-07-28T12:00:00Z","sequence_num":0,"events":[{"subscriptions":{"market_trades":["BTC-USD"]}}]}`;
  assert.deepEqual(coinbase.parse(subs, M, 1).events, [{ kind: "subscribed" }]);
  assert.deepEqual(coinbase.parse(subs.replace(`"BTC-USD"`, `"ETH-USD"`), M, 1).events, []);
  const beat =
    `{"channel":"heartbeats","client_id":"","timestamp":"2026-07-28T12:00:00Z","sequence_num":1,"events":[{"current_time":"2026-07-28 12:00:00 +0000 UTC","heartbeat_counter":"3049"}]}`;
  assert.deepEqual(coinbase.parse(beat, M, 1).events, [{ kind: "heartbeat" }]);
  assert.deepEqual(
    coinbase.parse(
      `{"type":"heartbeat","sequence":90,"last_trade_id":20,"product_id":"BTC-USD","time":"2014-11-07T08:19:28.464459Z"}`,
      M,
      1,
    ).events,
    [{ kind: "heartbeat" }],
  );
  assert.deepEqual(
    coinbase.parse(
      `{"type":"error","message":"Failed to subscribe","reason":"BTC-XYZ is not a valid product"}`,
      M,
      1,
    ).events,
    [{ kind: "error", message: "Failed to subscribe: BTC-XYZ is not a valid product" }],
  );
});

Deno.test("coinbase: one bad trade in a batch is rejected alone, the others are kept", () => {
  const r = coinbase.parse(AT_TRADES.replace(`"price":"117250.10"`, `"price":"-117250.10"`), M, 1);
  assert.deepEqual(r.trades.map((t) => t.tradeId), ["995098662"]);
  assert.deepEqual(r.rejects.map((x) => x.reason), ["bad_price"]);
  const other = coinbase.parse(MATCH.replace("BTC-USD", "ETH-USD"), M, 1);
  assert.deepEqual(other.rejects.map((x) => x.reason), ["wrong_market"]);
  assert.deepEqual(
    coinbase.parse(MATCH.replace(`"side":"sell"`, `"side":"SELLX"`), M, 1).rejects.map((x) =>
      x.reason
    ),
    ["bad_side"],
  );
  assert.deepEqual(coinbase.parse(`{"type":"ticker"}`, M, 1).rejects.map((x) => x.reason), [
    "unknown_event",
  ]);
});

Deno.test("coinbase: REST asks for the next 1000 ids with 'after' and orders the page by id", () => {
  assert.equal(
    coinbase.rest!.pagePath(M, { tradeId: "82047307", ts: 0 }),
    "/products/BTC-USD/trades?after=82048308&limit=1000",
  );
  const page =
    `[{"trade_id":11,"side":"buy","size":"1.5","price":"2.00","time":"2026-07-28T12:00:00.2Z"},` +
    `{"trade_id":10,"side":"sell","size":"0.1","price":"1.10","time":"2026-07-28T12:00:00.1Z"}]`;
  const r = coinbase.rest!.parsePage(page, M, 3);
  assert.deepEqual(r.trades.map((t) => [t.tradeId, t.side]), [["10", "buy"], ["11", "sell"]]);
  assert.equal(coinbase.rest!.parsePage(`{"message":"NotFound"}`, M, 3).events[0].kind, "error");
});

Deno.test("coinbase fake: a bad product gets an error and heartbeats arrive every second", async () => {
  const fake = await startFakeExchange({ exchange: "coinbase", trades: 0 });
  try {
    const bad = await collect(
      {
        ...coinbase,
        subscribeMessages:
          () => [`{"type":"subscribe","product_ids":["BTC-XYZ"],"channel":"market_trades"}`],
      },
      fake,
      (c) => c.results.length >= 1,
    );
    assert.equal(bad.results[0].events[0].kind, "error");
    const c = await collect(
      coinbase,
      fake,
      (c) => c.results.some((r) => r.events.some((e) => e.kind === "heartbeat")),
      3000,
    );
    assert.ok(c.results.some((r) => r.events.some((e) => e.kind === "heartbeat")));
  } finally {
    await fake.stop();
  }
});
