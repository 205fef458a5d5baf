import assert from "node:assert/strict";
import { binance } from "../../lib/exchanges/binance.ts";
import type { Market } from "../../lib/trade.ts";
import { startFakeExchange } from "../support/fake_exchange.ts";
import { collect } from "./_fake_client.ts";

const M: Market = { exchange: "binance", base: "BTC", quote: "USDT" };
const TRADE =
  `{"e":"trade","E":1785312345678,"s":"BTCUSDT","t":5123456789,"p":"117250.01000000","q":"0.00125000","T":1785312345677,"m":true,"M":true}`;

Deno.test("binance: a trade keeps exact decimal text and m:true means the taker sold", () => {
  const r = binance.parse(TRADE, M, 42);
  assert.deepEqual(r.rejects, []);
  assert.deepEqual(r.trades, [{
    market: "binance:BTC-USDT",
    tradeId: "5123456789",
    price: "117250.01000000",
    size: "0.00125000",
    side: "sell",
    ts: 1785312345677,
    receivedAt: 42,
  }]);
  const buy = binance.parse(TRADE.replace(`"m":true`, `"m":false`), M, 42);
  assert.equal(buy.trades[0].side, "buy");
});

Deno.test("binance: combined-stream wrapping yields the same trade", () => {
  const r = binance.parse(`{"stream":"btcusdt@trade","data":${TRADE}}`, M, 42);
  assert.deepEqual(r.trades, binance.parse(TRADE, M, 42).trades);
});

Deno.test("binance: trade ids beyond 2^53 keep every digit", () => {
  const r = binance.parse(TRADE.replace("5123456789", "9007199254740993"), M, 1);
  assert.equal(r.trades[0].tradeId, "9007199254740993");
});

Deno.test("binance: acks, shutdown notices and errors become events, not trades", () => {
  assert.deepEqual(binance.parse(`{"result":null,"id":1}`, M, 1).events, [{ kind: "subscribed" }]);
  assert.deepEqual(binance.parse(`{"e":"serverShutdown","E":1785312345678}`, M, 1).events, [
    { kind: "reconnect", reason: "binance serverShutdown" },
  ]);
  assert.deepEqual(binance.parse(`{"code":2,"msg":"Invalid request: bad"}`, M, 1).events, [
    { kind: "error", message: "2: Invalid request: bad" },
  ]);
  assert.deepEqual(binance.parse(`{"error":{"code":3,"msg":"Invalid JSON"},"id":1}`, M, 1).events, [
    { kind: "error", message: "3: Invalid JSON" },
  ]);
});

Deno.test("binance: invalid messages are rejected with their reason and never become trades", () => {
  const cases: [string, string][] = [
    [TRADE.slice(0, 40), "invalid_json"],
    [`[1,2]`, "wrong_type"],
    [TRADE.replace("BTCUSDT", "ETHUSDT"), "wrong_market"],
    [TRADE.replace(`"p":"117250.01000000"`, `"p":117250.01`), "bad_price"],
    [TRADE.replace(`"p":"117250.01000000"`, `"p":"-1"`), "bad_price"],
    [TRADE.replace(`"q":"0.00125000"`, `"q":"0.00000000"`), "bad_size"],
    [TRADE.replace(`"q":"0.00125000"`, `"q":"1e-3"`), "bad_size"],
    [TRADE.replace(`"T":1785312345677`, `"T":1785312345677000`), "bad_time"],
    [TRADE.replace(`"t":5123456789`, `"t":-5`), "bad_trade_id"],
    [TRADE.replace(`"t":5123456789`, `"t":5.5`), "bad_trade_id"],
    [TRADE.replace(`"m":true`, `"m":"true"`), "bad_side"],
    [TRADE.replace(`"e":"trade"`, `"e":"aggTrade"`), "unknown_event"],
    [`{"hello":1}`, "unknown_event"],
  ];
  for (const [text, reason] of cases) {
    const r = binance.parse(text, M, 1);
    assert.equal(r.trades.length, 0, text);
    assert.deepEqual(r.rejects.map((x) => x.reason), [reason], text);
    assert.ok(r.rejects[0].sample.length <= 200);
  }
});

Deno.test("binance: REST backfill asks for the trade after the last one and parses pages in id order", () => {
  const path = binance.rest!.pagePath(M, { tradeId: "5123456789", ts: 0 });
  assert.equal(path, "/api/v3/historicalTrades?symbol=BTCUSDT&fromId=5123456790&limit=1000");
  const page =
    `[{"id":11,"price":"2.00000000","qty":"1.5","quoteQty":"3","time":1785312345679,"isBuyerMaker":false,"isBestMatch":true},` +
    `{"id":10,"price":"1.10","qty":"0.1","quoteQty":"0.11","time":1785312345678,"isBuyerMaker":true,"isBestMatch":true}]`;
  const r = binance.rest!.parsePage(page, M, 7);
  assert.deepEqual(r.trades.map((t) => [t.tradeId, t.price, t.size, t.side, t.ts]), [
    ["10", "1.10", "0.1", "sell", 1785312345678],
    ["11", "2.00000000", "1.5", "buy", 1785312345679],
  ]);
  const err = binance.rest!.parsePage(
    `{"code":0,"msg":"Service unavailable from a restricted location"}`,
    M,
    7,
  );
  assert.equal(err.events[0].kind, "error");
});

Deno.test("binance fake: every published trade arrives and parses to the tape, field by field", async () => {
  const fake = await startFakeExchange({ exchange: "binance", trades: 300, ratePerSec: 20_000 });
  try {
    const c = await collect(binance, fake, (c) => c.byId.size >= 300);
    assert.deepEqual(c.results.flatMap((r) => r.rejects), []);
    assert.deepEqual([...c.byId.values()].map((t) => ({ ...t, receivedAt: 0 })), fake.tape);
  } finally {
    await fake.stop();
  }
});

Deno.test("binance fake: skipped ids never arrive over WebSocket and REST backfill returns them", async () => {
  const fake = await startFakeExchange({
    exchange: "binance",
    trades: 100,
    ratePerSec: 20_000,
    startTradeId: 1000,
    skipIds: [1040, 1049],
  });
  try {
    const c = await collect(binance, fake, (c) => c.byId.size >= 90);
    assert.equal(c.byId.size, 90);
    assert.ok(!c.byId.has("1040") && !c.byId.has("1049"));
    const res = await fetch(
      fake.restUrl + binance.rest!.pagePath(fake.market, { tradeId: "1039", ts: 0 }),
    );
    const page = binance.rest!.parsePage(await res.text(), fake.market, 0);
    assert.deepEqual(page.trades.slice(0, 10), fake.tape.slice(40, 50));
  } finally {
    await fake.stop();
  }
});

Deno.test("binance fake: dropAfter closes the connection without a close frame, once", async () => {
  const fake = await startFakeExchange({
    exchange: "binance",
    trades: 50,
    ratePerSec: 20_000,
    dropAfter: 20,
  });
  try {
    const c = await collect(binance, fake, () => false);
    assert.notEqual(c.closeCode, 1000);
    assert.equal(c.byId.size, 20);
    const again = await collect(binance, fake, (c) => c.byId.size >= 30);
    assert.equal(again.byId.size, 30);
    assert.equal(fake.connections, 2);
  } finally {
    await fake.stop();
  }
});

Deno.test("binance fake: a blocked region answers the upgrade and REST with 451", async () => {
  const fake = await startFakeExchange({ exchange: "binance", trades: 5, blockStatus: 451 });
  try {
    const res = await fetch(fake.restUrl + "/api/v3/historicalTrades?symbol=BTCUSDT");
    assert.equal(res.status, 451);
    assert.equal(binance.rest!.parsePage(await res.text(), fake.market, 0).events[0].kind, "error");
    const c = await collect(binance, fake, () => false, 3000);
    assert.equal(c.results.length, 0);
    assert.equal(fake.connections, 0);
  } finally {
    await fake.stop();
  }
});

Deno.test("binance fake: an unknown symbol gets silence, as on the real exchange", async () => {
  const fake = await startFakeExchange({ exchange: "binance", trades: 20, ratePerSec: 20_000 });
  try {
    const other: Market = { exchange: "binance", base: "NOPE", quote: "USDT" };
    const ws = new WebSocket(binance.connectUrl(fake.wsUrl, other));
    const got: string[] = [];
    ws.onmessage = (e) => got.push(String(e.data));
    await new Promise((r) => (ws.onopen = r));
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(fake.subscribers(), 0);
    assert.equal(fake.sent(), 0);
    const closed = new Promise((r) => (ws.onclose = r));
    ws.close();
    await closed;
    assert.deepEqual(got, []);
  } finally {
    await fake.stop();
  }
});

Deno.test("binance: REST uses /api/v3 only (the /api/v1 paths are retired) and the adapter paces at 5 messages/s", () => {
  const path = binance.rest!.pagePath(M, { tradeId: "5123456789", ts: 1785312345677 });
  assert.match(path, /^\/api\/v3\/historicalTrades\?symbol=BTCUSDT&fromId=5123456790&limit=1000$/);
  assert.equal(binance.rest!.pagePath(M, { tradeId: "", ts: 0 }).startsWith("/api/v3/"), true);
  assert.deepEqual(
    { messages: binance.outboundLimit?.messages, windowMs: binance.outboundLimit?.windowMs },
    { messages: 5, windowMs: 1_000 },
  );
  // No Binance path of lib/ names a retired /api/v1 endpoint (comments included, except the note).
  const dir = new URL("../../lib/", import.meta.url);
  const offenders: string[] = [];
  const walk = (u: URL) => {
    for (const e of Deno.readDirSync(u)) {
      const child = new URL(e.name + (e.isDirectory ? "/" : ""), u);
      if (e.isDirectory) walk(child);
      else if (e.name.endsWith(".ts")) {
        const text = Deno.readTextFileSync(child).replace("(`/api/v1` is retired)", "");
        if (text.includes("/api/v1/") || text.includes("`/api/v1`")) offenders.push(e.name);
      }
    }
  };
  walk(dir);
  assert.deepEqual(offenders, []);
});
