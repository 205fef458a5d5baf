import assert from "node:assert/strict";
import { backfill, gapRange } from "../../lib/feed/backfill.ts";
import { RestBudget } from "../../lib/feed/rest_budget.ts";
import { startFakeExchange } from "../support/fake_exchange.ts";
import { adapter, collecting } from "./_harness.ts";

const binance = adapter("binance");
const budget = () => new RestBudget("binance", binance.rest!.limits);

Deno.test("backfill pages through REST history until the gap closes, returning exactly the missing trades in order", async () => {
  // No subscriber: the tape runs on the clock and REST serves what was published.
  const fake = await startFakeExchange({
    exchange: "binance",
    trades: 5_000,
    ratePerSec: 50_000,
    pauseWhileDisconnected: false,
  });
  try {
    await fake.done;
    const t = fake.tape;
    const sink = collecting();
    const r = await backfill(
      { adapter: binance, market: fake.market, restUrl: fake.restUrl, budget: budget() },
      gapRange({
        afterTradeId: t[10].tradeId,
        afterTs: t[10].ts,
        beforeTradeId: t[3_011].tradeId,
        beforeTs: t[3_011].ts,
      }),
      sink,
    );
    assert.equal(r.error, null);
    assert.equal(r.closed, true);
    assert.ok(r.pages >= 3, `several pages (${r.pages})`);
    assert.equal(r.recovered, 3_000);
    assert.ok(sink.largestPage <= 1_000, "handed over page by page");
    assert.deepEqual(
      sink.got.map((x) => x.tradeId),
      t.slice(11, 3_011).map((x) => x.tradeId),
    );
  } finally {
    await fake.stop();
  }
});

Deno.test("backfill retries a REST server that never answers, each request ending at its timeout, and gives up at giveUpAfterMs", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns: Deno.Conn[] = [];
  const accepting = (async () => {
    for await (const c of listener) conns.push(c);
  })();
  try {
    const started = Date.now();
    const r = await backfill(
      {
        adapter: binance,
        market: { exchange: "binance", base: "BTC", quote: "USDT" },
        restUrl: `http://127.0.0.1:${(listener.addr as Deno.NetAddr).port}`,
        budget: budget(),
      },
      gapRange({ afterTradeId: "1", afterTs: 1, beforeTradeId: "10", beforeTs: 10 }),
      collecting(),
      { requestTimeoutMs: 150, giveUpAfterMs: 1_000, retry: { initialMs: 50, maxMs: 100 } },
    );
    const took = Date.now() - started;
    assert.ok(took >= 1_000 && took < 2_500, `gave up after about 1 s (${took} ms)`);
    assert.equal(r.closed, false);
    assert.ok(r.retries >= 3, `retried (${r.retries})`);
    assert.match(String(r.error), /^gave up retrying: timeout after 150 ms/);
    assert.equal(r.retryable, true, "a later attempt may succeed");
    assert.deepEqual(r.resumeAfter, { tradeId: "1", ts: 1 });
  } finally {
    listener.close();
    await accepting;
    for (const c of conns) c.close();
  }
});

Deno.test("a refused REST request is one line naming the status, without the URL's credentials", async () => {
  const fake = await startFakeExchange({ exchange: "binance", trades: 10, blockStatus: 451 });
  try {
    const withSecret = fake.restUrl.replace("http://", "http://user:hunter2@");
    const r = await backfill(
      { adapter: binance, market: fake.market, restUrl: withSecret, budget: budget() },
      gapRange({ afterTradeId: "1", afterTs: 1, beforeTradeId: "10", beforeTs: 10 }),
      collecting(),
    );
    assert.equal(r.retries, 0, "a blocked location is not retried");
    assert.equal(r.retryable, false);
    assert.equal(r.closed, false);
    assert.match(
      String(r.error),
      /^HTTP 451 from http:\/\/127\.0\.0\.1:\d+\/api\/v3\/historicalTrades$/,
    );
    assert.ok(!String(r.error).includes("hunter2"));
  } finally {
    await fake.stop();
  }
});
