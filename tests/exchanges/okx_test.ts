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

Deno.test("okx: an aggregate of `count` fills carries them (its ids end at tradeId); a bad count is rejected", () => {
  const agg = TRADE.replace(`"count":"1"`, `"count":"3"`);
  assert.equal(okx.parse(agg, M, 1).trades[0].fills, 3);
  assert.equal(okx.parse(TRADE, M, 1).trades[0].fills, undefined, "one fill: no field");
  for (const bad of [`"0"`, `"x"`, `3`, `"-1"`]) {
    const r = okx.parse(TRADE.replace(`"count":"1"`, `"count":${bad}`), M, 1);
    assert.deepEqual(r.trades, [], bad);
    assert.deepEqual(r.rejects.map((x) => x.reason), ["bad_trade_id"], bad);
  }
  assert.equal(okx.continuity, "contiguous");
});

Deno.test("okx: history-trades pages ask for the 100 ids after the cursor and parse newest-first rows into trade order", () => {
  assert.equal(
    okx.rest!.pagePath(M, { tradeId: "216970876", ts: 0 }),
    "/api/v5/market/history-trades?instId=BTC-USDT&type=1&before=216970876&after=216970977&limit=100",
  );
  const body = `{"code":"0","msg":"","data":[` +
    `{"instId":"BTC-USDT","side":"buy","sz":"0.5","source":"0","px":"31684.6","tradeId":"216970878","ts":"1626531038290"},` +
    `{"instId":"BTC-USDT","side":"sell","sz":"0.00001","source":"0","px":"31684.5","tradeId":"216970877","ts":"1626531038288"}]}`;
  const page = okx.rest!.parsePage(body, M, 9);
  assert.deepEqual(page.rejects, []);
  assert.deepEqual(page.trades.map((t) => [t.tradeId, t.side, t.size]), [
    ["216970877", "sell", "0.00001"],
    ["216970878", "buy", "0.5"],
  ]);
});

Deno.test("okx: REST errors in the body are classified: 50011 waits, 50013/50026 retry, 51001 stops", () => {
  const err = (code: string, msg: string) =>
    okx.rest!.parsePage(`{"code":"${code}","msg":"${msg}","data":[]}`, M, 0).events;
  const [e] = err("50011", "Rate limit reached.");
  assert.equal(e.kind, "error");
  const kind = (code: string) =>
    okx.rest!.errorKind!(
      (err(code, "x")[0] as { message: string }).message,
    );
  assert.equal(kind("50011"), "rate_limited");
  assert.equal(kind("50013"), "transient");
  assert.equal(kind("50026"), "transient");
  assert.equal(kind("51001"), "permanent");
  assert.equal(kind("500110"), "permanent", "codes match whole");
});
