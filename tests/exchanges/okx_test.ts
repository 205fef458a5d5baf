import assert from "node:assert/strict";
import { okx } from "../../lib/exchanges/okx.ts";
import type { Market } from "../../lib/trade.ts";
import { startFakeExchange } from "../support/fake_exchange.ts";
import { collect } from "./_fake_client.ts";

const M: Market = { exchange: "okx", base: "BTC", quote: "USDT" };
const TRADE =
  `{"arg":{"channel":"trades","instId":"BTC-USDT"},"data":[{"instId":"BTC-USDT","tradeId":"216970876","px":"31684.5","sz":"0.00001186","side":"sell","ts":"1626531038288","count":"1"}]}`;

Deno.test("okx: a trade keeps its strings exactly and the taker's side", () => {
  assert.deepEqual(okx.parse(TRADE, M, 6).trades, [{
    market: "okx:BTC-USDT",
    tradeId: "216970876",
    price: "31684.5",
    size: "0.00001186",
    side: "sell",
    ts: 1626531038288,
    receivedAt: 6,
  }]);
});

Deno.test("okx: the text pong is a heartbeat, not invalid JSON; other text is invalid JSON", () => {
  assert.deepEqual(okx.parse("pong", M, 1), {
    trades: [],
    events: [{ kind: "heartbeat" }],
    rejects: [],
  });
  assert.deepEqual(okx.parse("pon", M, 1).rejects.map((x) => x.reason), ["invalid_json"]);
});

Deno.test("okx: acks, notice 64008, errors and foreign instruments are told apart", () => {
  assert.deepEqual(
    okx.parse(
      `{"event":"subscribe","arg":{"channel":"trades","instId":"BTC-USDT"},"connId":"a4d3ae55"}`,
      M,
      1,
    ).events,
    [{ kind: "subscribed" }],
  );
  const notice = okx.parse(
    `{"event":"notice","code":"64008","msg":"The connection will soon be closed for a service upgrade. Please reconnect.","connId":"a"}`,
    M,
    1,
  );
  assert.equal(notice.events[0].kind, "reconnect");
  assert.deepEqual(
    okx.parse(`{"event":"error","code":"60018","msg":"doesn't exist","connId":"a"}`, M, 1).events,
    [{ kind: "error", message: "60018: doesn't exist" }],
  );
  assert.deepEqual(
    okx.parse(TRADE.replaceAll("BTC-USDT", "ETH-USDT"), M, 1).rejects.map((x) => x.reason),
    ["wrong_market"],
  );
  assert.deepEqual(
    okx.parse(TRADE.replace(`"px":"31684.5"`, `"px":"NaN"`), M, 1).rejects.map((x) => x.reason),
    ["bad_price"],
  );
  assert.deepEqual(
    okx.parse(TRADE.replace(`"ts":"1626531038288"`, `"ts":1626531038288`), M, 1).rejects.map((x) =>
      x.reason
    ),
    ["bad_time"],
  );
});

Deno.test("okx fake: text ping gets text pong, a bad instrument gets error 60018, notice asks to reconnect", async () => {
  const fake = await startFakeExchange({
    exchange: "okx",
    trades: 10,
    ratePerSec: 20_000,
    maintenanceAfter: 10,
  });
  try {
    const c = await collect(
      {
        ...okx,
        subscribeMessages: (
          m: Market,
        ) => [...okx.subscribeMessages(m), okx.keepAlive.clientMessage!.text],
      },
      fake,
      (c) => c.results.some((r) => r.events.some((e) => e.kind === "reconnect")),
    );
    assert.deepEqual(c.results.flatMap((r) => r.events.map((e) => e.kind)), [
      "subscribed",
      "heartbeat",
      "reconnect",
    ]);
    const bad = await collect(
      {
        ...okx,
        subscribeMessages: () => okx.subscribeMessages({ ...M, base: "NOPE" }),
      },
      fake,
      (c) => c.results.length > 0,
    );
    assert.match((bad.results[0].events[0] as { message: string }).message, /^60018: /);
  } finally {
    await fake.stop();
  }
});
