import assert from "node:assert/strict";
import { bybit } from "../../lib/exchanges/bybit.ts";
import type { Market } from "../../lib/trade.ts";
import { startFakeExchange } from "../support/fake_exchange.ts";
import { collect } from "./_fake_client.ts";

const M: Market = { exchange: "bybit", base: "BTC", quote: "USDT" };
const MSG =
  `{"topic":"publicTrade.BTCUSDT","type":"snapshot","ts":1785312345679,"data":[{"T":1785312345677,"s":"BTCUSDT","S":"Buy","v":"0.001","p":"117250.50","i":"2290000000123456789","BT":false},{"T":1785312345678,"s":"BTCUSDT","S":"Sell","v":"0.5","p":"117250.4","i":"2290000000123456790","BT":false}]}`;

Deno.test("bybit: each trade in a batch keeps its strings, 19-digit id and taker side", () => {
  const r = bybit.parse(MSG, M, 8);
  assert.deepEqual(
    r.trades.map((t) => [t.market, t.tradeId, t.price, t.size, t.side, t.ts, t.receivedAt]),
    [
      ["bybit:BTC-USDT", "2290000000123456789", "117250.50", "0.001", "buy", 1785312345677, 8],
      ["bybit:BTC-USDT", "2290000000123456790", "117250.4", "0.5", "sell", 1785312345678, 8],
    ],
  );
});

Deno.test("bybit: non-numeric ids, lowercase sides and other topics are rejected with reasons", () => {
  const reasons = (t: string) => bybit.parse(t, M, 1).rejects.map((x) => x.reason);
  assert.deepEqual(reasons(MSG.replace("2290000000123456789", "20f43950-d8dd-5b31")), [
    "bad_trade_id",
  ]);
  assert.deepEqual(reasons(MSG.replace(`"S":"Buy"`, `"S":"buy"`)), ["bad_side"]);
  assert.deepEqual(reasons(MSG.replace("publicTrade.BTCUSDT", "publicTrade.ETHUSDT")), [
    "wrong_market",
  ]);
  assert.deepEqual(reasons(MSG.replace("publicTrade.BTCUSDT", "orderbook.1.BTCUSDT")), [
    "unknown_event",
  ]);
  assert.deepEqual(reasons(MSG.replace(`"T":1785312345677`, `"T":"1785312345677"`)), ["bad_time"]);
});

Deno.test("bybit: acks, pongs and failed subscriptions become events", () => {
  assert.deepEqual(
    bybit.parse(
      `{"success":true,"ret_msg":"subscribe","conn_id":"c","req_id":"1","op":"subscribe"}`,
      M,
      1,
    ).events,
    [{ kind: "subscribed" }],
  );
  assert.deepEqual(
    bybit.parse(`{"success":true,"ret_msg":"pong","conn_id":"c","op":"ping"}`, M, 1).events,
    [{ kind: "heartbeat" }],
  );
  assert.deepEqual(
    bybit.parse(
      `{"success":false,"ret_msg":"Invalid symbol :[publicTrade.X]","conn_id":"c","op":"subscribe"}`,
      M,
      1,
    ).events,
    [
      { kind: "error", message: "Invalid symbol :[publicTrade.X]" },
    ],
  );
});

Deno.test("bybit fake: ping gets pong and a bad symbol a failed subscription", async () => {
  const fake = await startFakeExchange({ exchange: "bybit", trades: 0 });
  try {
    const c = await collect(
      {
        ...bybit,
        subscribeMessages: (
          m: Market,
        ) => [...bybit.subscribeMessages(m), bybit.keepAlive.clientMessage!.text],
      },
      fake,
      (c) => c.results.length >= 2,
    );
    assert.deepEqual(c.results.flatMap((r) => r.events.map((e) => e.kind)), [
      "subscribed",
      "heartbeat",
    ]);
    const bad = await collect(
      {
        ...bybit,
        subscribeMessages: () => bybit.subscribeMessages({ ...M, base: "NOPE" }),
      },
      fake,
      (c) => c.results.length > 0,
    );
    assert.equal(bad.results[0].events[0].kind, "error");
  } finally {
    await fake.stop();
  }
});

Deno.test("bybit: block-trade (BT) and RPI marks are kept on the trade as flags, not dropped", () => {
  const one = (fields: string) =>
    bybit.parse(
      `{"topic":"publicTrade.BTCUSDT","type":"snapshot","ts":1785312345679,"data":[{"T":1785312345677,"s":"BTCUSDT","S":"Buy","v":"0.001","p":"117250.50","i":"2290000000123456789"${fields}}]}`,
      M,
      1,
    );
  assert.deepEqual(one(`,"BT":true,"RPI":true`).trades[0].flags, ["block", "rpi"]);
  assert.deepEqual(one(`,"BT":true,"RPI":false`).trades[0].flags, ["block"]);
  assert.deepEqual(one(`,"BT":false,"RPI":true`).trades[0].flags, ["rpi"]);
  assert.equal(one(`,"BT":false,"RPI":false`).trades[0].flags, undefined);
  assert.equal(one(``).trades[0].flags, undefined, "older messages without the fields");
  for (const bad of [`,"BT":"true"`, `,"RPI":1`]) {
    const r = one(bad);
    assert.deepEqual(r.trades, [], bad);
    assert.deepEqual(r.rejects.map((x) => x.reason), ["wrong_type"], bad);
  }
});
