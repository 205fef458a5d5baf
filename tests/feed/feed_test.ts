import assert from "node:assert/strict";
import { startFakeExchange } from "../support/fake_exchange.ts";
import { Feed, type GapRecord } from "../../lib/feed/feed.ts";
import type { Trade } from "../../lib/trade.ts";
import { adapter, assertExactlyTape, FAST, feedFor, logged, waitFor } from "./_harness.ts";

Deno.test("5,000 trades arrive in order, each exactly once, with increasing entry IDs", async () => {
  const fake = await startFakeExchange({ exchange: "binance", trades: 5_000, ratePerSec: 25_000 });
  const { feed, got } = feedFor([fake]);
  try {
    feed.start();
    await waitFor(() => got.trades.length >= 5_000, "5,000 trades");
    await fake.done;
    assertExactlyTape(got.trades, fake.tape);
    const s = feed.snapshot()["binance:BTC-USDT"];
    assert.equal(s.state, "live");
    assert.equal(s.gaps, 0);
    assert.equal(s.trades, 5_000);
  } finally {
    await feed.close();
    await fake.stop();
  }
});

Deno.test("a connection dropped mid-stream (no close frame) reconnects by itself and loses nothing", async () => {
  const fake = await startFakeExchange({
    exchange: "binance",
    trades: 3_000,
    ratePerSec: 10_000,
    dropAfter: 1_000,
  });
  const { feed, got } = feedFor([fake]);
  try {
    feed.start();
    await waitFor(() => got.trades.length >= 3_000, "all trades after the drop");
    assertExactlyTape(got.trades, fake.tape);
    assert.ok(fake.connections >= 2, "a second connection was made");
    const s = feed.snapshot()["binance:BTC-USDT"];
    assert.ok(s.reconnects >= 1);
    assert.equal(s.state, "live");
    assert.equal(logged("feed.disconnected").length, s.reconnects, "one log line per loss");
  } finally {
    await feed.close();
    await fake.stop();
  }
});

Deno.test("a skipped id range is backfilled over REST and delivered in order before later live trades", async () => {
  const start = 5_123_456_789;
  const fake = await startFakeExchange({
    exchange: "binance",
    trades: 3_000,
    ratePerSec: 10_000,
    startTradeId: start,
    skipIds: [start + 1_000, start + 1_499],
  });
  const { feed, got } = feedFor([fake]);
  try {
    feed.start();
    await waitFor(() => got.trades.length >= 3_000, "all trades including the skipped range");
    assertExactlyTape(got.trades, fake.tape);
    const late = got.trades.flatMap((t, i) => t.late ? [i] : []);
    assert.deepEqual(late, Array.from({ length: 500 }, (_, i) => 1_000 + i), "backfilled: late");
    assert.deepEqual(got.gaps, [{
      market: "binance:BTC-USDT",
      reason: "id_gap",
      afterTradeId: String(start + 999),
      beforeTradeId: String(start + 1_500),
      fromTs: fake.tape[999].ts,
      toTs: fake.tape[1_500].ts,
      recovered: 500,
      missing: 0,
    }]);
    const s = feed.snapshot()["binance:BTC-USDT"];
    assert.equal(s.gaps, 1);
    assert.equal(s.gapsBackfilled, 1);
  } finally {
    await feed.close();
    await fake.stop();
  }
});

Deno.test("trades published while disconnected are backfilled after the reconnect, none doubled", async () => {
  const start = 1_000_000;
  const fake = await startFakeExchange({
    exchange: "binance",
    trades: 4_000,
    ratePerSec: 4_000,
    startTradeId: start,
    dropAfter: 800,
    pauseWhileDisconnected: false,
  });
  // Storage holds the trade before the tape, so even trades sent before the first connect count.
  const { feed, got } = feedFor([fake], {
    initialLast: {
      "binance:BTC-USDT": {
        tradeId: String(start - 1),
        ts: fake.tape[0].ts,
        id: `${fake.tape[0].ts}-${start - 1}`,
      },
    },
    connection: { ...FAST, backoff: { initialMs: 150, maxMs: 300 } },
  });
  try {
    feed.start();
    await waitFor(() => got.trades.length >= 4_000, "every trade of the running tape");
    assertExactlyTape(got.trades, fake.tape);
    const disconnect = got.gaps.filter((g) => g.reason === "disconnect");
    assert.ok(disconnect.length >= 1, "the reconnect gap is reported as a disconnect");
    assert.ok(got.gaps.every((g) => g.missing === 0), "every gap fully recovered");
    assert.ok(disconnect.some((g) => BigInt(g.afterTradeId) >= BigInt(start + 700)));
    const recovered = got.gaps.reduce((n, g) => n + g.recovered, 0);
    assert.ok(recovered >= 100, `trades missed during the reconnect were fetched (${recovered})`);
  } finally {
    await feed.close();
    await fake.stop();
  }
});

Deno.test("a gap whose REST history is down stays pending, live trades held behind it, and is filled once REST heals", async () => {
  const start = 10_000;
  const fake = await startFakeExchange({
    exchange: "binance",
    trades: 1_000,
    ratePerSec: 10_000,
    startTradeId: start,
    skipIds: [start + 300, start + 399],
    restFaults: { failFromRequest: 1, failStatus: 503, failForMs: 2_500 },
  });
  const { feed, got } = feedFor([fake], {
    backfill: { giveUpAfterMs: 600, retry: { initialMs: 100, maxMs: 200 } },
    retryAttemptMs: 100,
  });
  try {
    feed.start();
    await waitFor(() => logged("feed.backfill_retrying").length >= 1, "a failed attempt");
    const s = feed.snapshot()["binance:BTC-USDT"];
    assert.equal(s.backfilling, true);
    assert.equal(s.recovering?.remaining, 100, "the bound is the first held live trade");
    assert.equal(s.recovering?.recovered, 0);
    assert.equal(got.gaps.length, 0, "not finished while REST is down");
    await waitFor(() => got.trades.length >= 1_000, "the full tape after REST healed");
    assertExactlyTape(got.trades, fake.tape);
    assert.deepEqual(got.gaps.map((g) => [g.recovered, g.missing]), [[100, 0]]);
    assert.equal(logged("feed.backfill_incomplete").length, 0);
    // Nothing stays pending; a reconnect as the tape ends may run a short catch-up first.
    await waitFor(
      () => feed.snapshot()["binance:BTC-USDT"].recovering === null,
      "no gap pending",
    );
  } finally {
    await feed.close();
    await fake.stop();
  }
});

Deno.test("a restart seeded from storage delivers neither the stored trades again nor misses the ones sent while down", async () => {
  const fake = await startFakeExchange({
    exchange: "binance",
    trades: 2_000,
    ratePerSec: 4_000,
    pauseWhileDisconnected: false,
  });
  const stored = fake.tape[99];
  await waitFor(() => fake.sent() >= 400, "trades published while btcfeed was down");
  const { feed, got } = feedFor([fake], {
    initialLast: {
      "binance:BTC-USDT": {
        tradeId: stored.tradeId,
        ts: stored.ts,
        id: `${stored.ts}-${stored.tradeId}`,
      },
    },
  });
  try {
    feed.start();
    await waitFor(() => got.trades.length >= 1_900, "the rest of the tape");
    assertExactlyTape(got.trades, fake.tape.slice(100));
    assert.equal(got.gaps[0].reason, "disconnect");
    assert.equal(got.gaps[0].afterTradeId, stored.tradeId);
    assert.equal(got.gaps[0].missing, 0);
  } finally {
    await feed.close();
    await fake.stop();
  }
});

Deno.test("trades the exchange's history no longer has are reported missing with their exact count, never invented", async () => {
  const start = 70_000;
  const fake = await startFakeExchange({
    exchange: "binance",
    trades: 1_500,
    ratePerSec: 10_000,
    startTradeId: start,
    skipIds: [start + 500, start + 799],
    restRetainFromId: start + 680,
  });
  const { feed, got } = feedFor([fake]);
  try {
    feed.start();
    await waitFor(() => got.trades.length >= 1_320, "live trades after the partial backfill");
    const want = fake.tape.filter((t) => {
      const id = Number(t.tradeId);
      return id < start + 500 || id >= start + 680;
    });
    assertExactlyTape(got.trades, want);
    assert.equal(got.gaps.length, 1);
    assert.equal(got.gaps[0].recovered, 120);
    assert.equal(got.gaps[0].missing, 180);
  } finally {
    await feed.close();
    await fake.stop();
  }
});

Deno.test("malformed messages are counted per reason, logged at a limited rate, and never become trades", async () => {
  const fake = await startFakeExchange({ exchange: "binance", trades: 2_000, ratePerSec: 2_000 });
  const { feed, got } = feedFor([fake]);
  try {
    feed.start();
    await waitFor(() => got.trades.length >= 200, "the stream running");
    const id = BigInt(fake.tape[1_999].tradeId) + 10n;
    const bad = [
      "not json",
      "{truncated",
      "not json either",
      `{"e":"trade","E":1,"s":"BTCUSDT","t":${id},"p":"-1","q":"0.1","T":1,"m":true}`,
      `{"e":"trade","E":1,"s":"ETHUSDT","t":${id},"p":"1.0","q":"0.1","T":1,"m":true}`,
      `{"e":"trade","E":1,"s":"BTCUSDT","t":"x","p":"1.0","q":"0.1","T":1,"m":true}`,
      `[1,2,3]`,
      // An old id a long time after the newest trade: an id reset, not an overlap.
      `{"e":"trade","E":1,"s":"BTCUSDT","t":${fake.tape[0].tradeId},"p":"1.0","q":"0.1","T":${
        fake.tape[1_999].ts + 120_000
      },"m":true}`,
    ];
    for (const text of bad) fake.sendRaw(text);
    await waitFor(() => got.trades.length >= 2_000, "the rest of the tape");
    assertExactlyTape(got.trades, fake.tape);
    const q = feed.snapshot()["binance:BTC-USDT"].quarantined;
    assert.equal(q.invalid_json, 3);
    assert.equal(q.bad_price, 1);
    assert.equal(q.wrong_market, 1);
    assert.equal(q.bad_trade_id, 1);
    assert.equal(q.wrong_type, 1);
    assert.equal(q.id_regression, 1);
    const lines = logged("feed.quarantined");
    assert.equal(lines.filter((l) => l.reason === "invalid_json").length, 1, "one line per reason");
    assert.equal(lines.length, 6);
  } finally {
    await feed.close();
    await fake.stop();
  }
});

Deno.test("a sink that throws never breaks the feed: later trades are still delivered in order", async () => {
  const fake = await startFakeExchange({ exchange: "binance", trades: 1_000, ratePerSec: 10_000 });
  const seen: string[] = [];
  let calls = 0;
  const { feed } = feedFor([fake], {
    onTrades: (trades) => {
      seen.push(...trades.map((t) => t.tradeId));
      if (++calls % 2) throw new Error("sink exploded");
      return Promise.reject(new Error("sink rejected"));
    },
  });
  try {
    feed.start();
    await waitFor(() => seen.length >= 1_000, "all trades despite the sink");
    assert.deepEqual(seen, fake.tape.map((t) => t.tradeId));
    assert.ok(logged("feed.sink_failed").length > 0, "sink errors are logged");
  } finally {
    await feed.close();
    await fake.stop();
  }
});

Deno.test("without id continuity or history a disconnect window is reported with missing: null and nothing is invented", async () => {
  const fake = await startFakeExchange({
    exchange: "binance",
    trades: 3_000,
    ratePerSec: 4_000,
    dropAfter: 1_000,
    pauseWhileDisconnected: false,
  });
  const noHistory = { ...adapter("binance"), continuity: "none" as const, rest: undefined };
  const got = { trades: [] as Trade[], gaps: [] as GapRecord[] };
  const feed = new Feed({
    markets: [{ market: fake.market, adapter: noHistory, wsUrl: fake.wsUrl }],
    onTrades: (t) => void got.trades.push(...t),
    onGap: (g) => void got.gaps.push(g),
    connection: { ...FAST, backoff: { initialMs: 150, maxMs: 300 } },
  });
  try {
    feed.start();
    await fake.done;
    await waitFor(() => got.trades.at(-1)?.tradeId === fake.tape.at(-1)!.tradeId, "the last trade");
    const byId = new Map(fake.tape.map((t, i) => [t.tradeId, i]));
    const idx = got.trades.map((t) => byId.get(t.tradeId));
    assert.ok(idx.every((i) => i !== undefined), "every delivered trade is on the tape");
    assert.ok(idx.every((i, k) => k === 0 || i! > idx[k - 1]!), "in tape order, no duplicates");
    assert.ok(
      got.trades.length < fake.tape.length,
      "trades sent while down are missing, not made up",
    );
    assert.equal(got.gaps.length, 1);
    const g = got.gaps[0];
    assert.equal(g.reason, "disconnect");
    assert.equal(g.missing, null);
    assert.equal(g.recovered, 0);
    const after = byId.get(g.afterTradeId)!, before = byId.get(g.beforeTradeId)!;
    assert.equal(idx.indexOf(before), idx.indexOf(after) + 1, "the window brackets the loss");
    assert.ok(before - after > 1);
  } finally {
    await feed.close();
    await fake.stop();
  }
});
