import assert from "node:assert/strict";
import { bitstamp } from "../../lib/exchanges/bitstamp.ts";
import type { Market } from "../../lib/trade.ts";
import { startFakeExchange } from "../support/fake_exchange.ts";
import { collect } from "./_fake_client.ts";

const M: Market = { exchange: "bitstamp", base: "BTC", quote: "USD" };
const TRADE =
  `{"event":"trade","channel":"live_trades_btcusd","data":{"id":106833903,"timestamp":"1583691851","microtimestamp":"1583691851934999","amount":0.14406384,"amount_str":"0.14406384","price":117250.10,"price_str":"117250.10","type":1,"buy_order_id":1207733769326592,"sell_order_id":1207733765476352}}`;

Deno.test("bitstamp: price_str/amount_str are kept exactly; type 1 is a taker sell; µs truncate to ms", () => {
  assert.deepEqual(bitstamp.parse(TRADE, M, 4).trades, [{
    market: "bitstamp:BTC-USD",
    tradeId: "106833903",
    price: "117250.10",
    size: "0.14406384",
    side: "sell",
    ts: 1583691851934,
    receivedAt: 4,
  }]);
  assert.equal(bitstamp.parse(TRADE.replace(`"type":1`, `"type":0`), M, 4).trades[0].side, "buy");
});

Deno.test("bitstamp: a trade without its exact string fields or with a bad type is rejected", () => {
  const reasons = (t: string) => bitstamp.parse(t, M, 1).rejects.map((x) => x.reason);
  assert.deepEqual(reasons(TRADE.replace(`"price_str":"117250.10",`, "")), ["bad_price"]);
  assert.deepEqual(reasons(TRADE.replace(`"amount_str":"0.14406384"`, `"amount_str":"-0.1"`)), [
    "bad_size",
  ]);
  assert.deepEqual(reasons(TRADE.replace(`"type":1`, `"type":2`)), ["bad_side"]);
  assert.deepEqual(reasons(TRADE.replace(`"type":1`, `"type":"1"`)), ["bad_side"]);
  assert.deepEqual(reasons(TRADE.replace("live_trades_btcusd", "live_trades_btceur")), [
    "wrong_market",
  ]);
  assert.deepEqual(
    reasons(
      TRADE.replace(`"microtimestamp":"1583691851934999"`, `"microtimestamp":1583691851934999`),
    ),
    ["bad_time"],
  );
});

Deno.test("bitstamp: subscription, heartbeat echo, reconnect request and errors become events", () => {
  assert.deepEqual(
    bitstamp.parse(
      `{"event":"bts:subscription_succeeded","channel":"live_trades_btcusd","data":{}}`,
      M,
      1,
    ).events,
    [{ kind: "subscribed" }],
  );
  assert.deepEqual(
    bitstamp.parse(`{"event":"bts:heartbeat","channel":"","data":{"status":"success"}}`, M, 1)
      .events,
    [{ kind: "heartbeat" }],
  );
  assert.deepEqual(
    bitstamp.parse(`{"event":"bts:request_reconnect","channel":"","data":{}}`, M, 1).events,
    [
      { kind: "reconnect", reason: "bitstamp bts:request_reconnect" },
    ],
  );
  assert.deepEqual(
    bitstamp.parse(
      `{"event":"bts:error","channel":"","data":{"code":null,"message":"Incorrect JSON format."}}`,
      M,
      1,
    ).events,
    [
      { kind: "error", message: "Incorrect JSON format." },
    ],
  );
  assert.equal(bitstamp.rest, undefined);
  assert.equal(bitstamp.continuity, "none");
});

Deno.test("bitstamp fake: the client heartbeat is echoed and maintenance asks for a reconnect", async () => {
  const fake = await startFakeExchange({
    exchange: "bitstamp",
    trades: 30,
    ratePerSec: 20_000,
    maintenanceAfter: 30,
  });
  try {
    const withBeat = {
      ...bitstamp,
      subscribeMessages: (
        m: Market,
      ) => [...bitstamp.subscribeMessages(m), bitstamp.keepAlive.clientMessage!.text],
    };
    const c = await collect(
      withBeat,
      fake,
      (c) => c.results.some((r) => r.events.some((e) => e.kind === "reconnect")),
    );
    const kinds = c.results.flatMap((r) => r.events.map((e) => e.kind));
    assert.deepEqual(kinds, ["subscribed", "heartbeat", "reconnect"]);
    assert.equal(c.byId.size, 30);
  } finally {
    await fake.stop();
  }
});
