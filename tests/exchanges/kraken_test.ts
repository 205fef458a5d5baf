import assert from "node:assert/strict";
import { kraken } from "../../lib/exchanges/kraken.ts";
import type { Market } from "../../lib/trade.ts";
import { startFakeExchange } from "../support/fake_exchange.ts";
import { collect } from "./_fake_client.ts";

const M: Market = { exchange: "kraken", base: "BTC", quote: "USD" };
const TRADES = `{"channel":"trade","type":"update","data":[` +
  `{"symbol":"BTC/USD","side":"buy","price":117250.10,"qty":0.01250000,"ord_type":"market","trade_id":89123456,"timestamp":"2026-07-28T12:00:00.123456Z"},` +
  `{"symbol":"BTC/USD","side":"sell","price":117250,"qty":3,"ord_type":"limit","trade_id":89123457,"timestamp":"2026-07-28T12:00:00.124999Z"}]}`;

Deno.test("kraken: JSON-number prices and quantities keep their exact text; side is the taker's", () => {
  const r = kraken.parse(TRADES, M, 9);
  assert.deepEqual(r.rejects, []);
  const ms = Date.UTC(2026, 6, 28, 12, 0, 0);
  assert.deepEqual(r.trades, [
    {
      market: "kraken:BTC-USD",
      tradeId: "89123456",
      price: "117250.10",
      size: "0.01250000",
      side: "buy",
      ts: ms + 123,
      receivedAt: 9,
    },
    {
      market: "kraken:BTC-USD",
      tradeId: "89123457",
      price: "117250",
      size: "3",
      side: "sell",
      ts: ms + 124,
      receivedAt: 9,
    },
  ]);
  assert.equal(
    kraken.parse(TRADES.replace(`"type":"update"`, `"type":"snapshot"`), M, 9).trades.length,
    2,
  );
});

Deno.test("kraken: prices sent as strings, exponents or zero are rejected, not converted", () => {
  const reasons = (t: string) => kraken.parse(t, M, 1).rejects.map((x) => x.reason);
  assert.deepEqual(reasons(TRADES.replace("117250.10", `"117250.10"`)), ["bad_price"]);
  assert.deepEqual(reasons(TRADES.replace("117250.10", "1.1725010e5")), ["bad_price"]);
  assert.deepEqual(reasons(TRADES.replace("0.01250000", "0")), ["bad_size"]);
  assert.deepEqual(reasons(TRADES.replace(`"BTC/USD","side":"buy"`, `"ETH/USD","side":"buy"`)), [
    "wrong_market",
  ]);
  assert.deepEqual(reasons(TRADES.replace("89123456", "-89123456")), ["bad_trade_id"]);
  assert.deepEqual(reasons(TRADES.replace(".123456Z", ".123456")), ["bad_time"]);
});

Deno.test("kraken: status, heartbeat, acks and failed acks become events", () => {
  const status =
    `{"channel":"status","type":"update","data":[{"version":"2.0.10","system":"maintenance","api_version":"v2","connection_id":1}]}`;
  assert.deepEqual(kraken.parse(status, M, 1).events, [{ kind: "status", status: "maintenance" }]);
  assert.deepEqual(kraken.parse(`{"channel":"heartbeat"}`, M, 1).events, [{ kind: "heartbeat" }]);
  const ack =
    `{"method":"subscribe","result":{"channel":"trade","snapshot":true,"symbol":"BTC/USD"},"success":true,"time_in":"x","time_out":"y","req_id":1}`;
  assert.deepEqual(kraken.parse(ack, M, 1).events, [{ kind: "subscribed" }]);
  const nack =
    `{"error":"Currency pair not supported BTC/XYZ","method":"subscribe","success":false,"symbol":"BTC/XYZ","req_id":1}`;
  assert.deepEqual(kraken.parse(nack, M, 1).events, [{
    kind: "error",
    message: "Currency pair not supported BTC/XYZ",
  }]);
  assert.deepEqual(kraken.parse(`{"method":"pong","req_id":2}`, M, 1).events, [{
    kind: "heartbeat",
  }]);
  assert.deepEqual(kraken.parse(`{"channel":"book"}`, M, 1).rejects.map((x) => x.reason), [
    "unknown_event",
  ]);
});

Deno.test("kraken: REST pages by time from 1 ms before the last trade and parses rows exactly", () => {
  assert.equal(
    kraken.rest!.pagePath(M, { tradeId: "89123456", ts: 1785240000123 }),
    "/0/public/Trades?pair=XBTUSD&since=1785240000122000000&count=1000",
  );
  const body =
    `{"error":[],"result":{"XXBTZUSD":[["30243.40000","0.34507674",1688669597.8277369,"b","m","",61044952],` +
    `["30243.30000","0.00376960",1688669598.2804112,"s","l","",61044953]],"last":"1688671969993150842"}}`;
  const r = kraken.rest!.parsePage(body, M, 2);
  assert.deepEqual(r.trades.map((t) => [t.tradeId, t.price, t.size, t.side, t.ts]), [
    ["61044952", "30243.40000", "0.34507674", "buy", 1688669597827],
    ["61044953", "30243.30000", "0.00376960", "sell", 1688669598280],
  ]);
  const err = kraken.rest!.parsePage(`{"error":["EQuery:Unknown asset pair"]}`, M, 2);
  assert.deepEqual(err.events, [{ kind: "error", message: "EQuery:Unknown asset pair" }]);
});

Deno.test("kraken fake: a reconnect gets the last 50 trades as a snapshot, and a bad pair a failed ack", async () => {
  const fake = await startFakeExchange({
    exchange: "kraken",
    trades: 120,
    ratePerSec: 20_000,
    dropAfter: 60,
  });
  try {
    const first = await collect(kraken, fake, () => false);
    assert.equal(first.byId.size, 60);
    const second = await collect(kraken, fake, (c) => c.byId.size >= 110);
    const snapshot = second.results.find((r) => r.trades.length === 50);
    assert.ok(snapshot, "a 50-trade snapshot");
    assert.deepEqual(
      snapshot.trades.map((t) => ({ ...t, receivedAt: 0 })),
      fake.tape.slice(10, 60),
    );
    const bad = await collect(
      { ...kraken, subscribeMessages: () => [kraken.subscribeMessages({ ...M, quote: "XYZ" })[0]] },
      fake,
      (c) => c.results.some((r) => r.events.some((e) => e.kind === "error")),
    );
    assert.ok(bad.results.some((r) => r.events.some((e) => e.kind === "error")));
    assert.ok(bad.results.some((r) => r.events.some((e) => e.kind === "status")));
  } finally {
    await fake.stop();
  }
});
