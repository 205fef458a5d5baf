/**
 * Catch-up on every (re)connect and start: where ids are contiguous and REST has history, a
 * connection that opens with a last known trade backfills from it at once, without waiting for
 * the next live trade, and stops at the first held live trade or when REST has nothing newer.
 */

import assert from "node:assert/strict";
import { startFakeExchange } from "../support/fake_exchange.ts";
import { assertExactlyTape, feedFor, logged, waitFor } from "./_harness.ts";

const delay = (ms: number) => new Promise((r) => setTimeout(r, ms));

for (const exchange of ["binance", "coinbase", "kraken", "okx"]) {
  Deno.test(`${exchange}: trades published during a disconnect on a tape that then goes quiet are caught up at the reconnect, without a live trade`, async () => {
    const fake = await startFakeExchange({
      exchange,
      trades: 1_300,
      ratePerSec: 5_000,
      clockUntil: 300,
      startMicros: Date.now() * 1000,
    });
    const { feed, got } = feedFor([fake]);
    try {
      feed.start();
      await waitFor(() => got.trades.length >= 300, "the first 300 trades");
      fake.outage(1_500);
      for (let i = 0; i < 10; i++) fake.advance(100);
      await waitFor(
        () => got.trades.length >= 1_300 && got.gaps.length > 0,
        "the 1,000 published while down, and the gap record",
        10_000,
      );
      assertExactlyTape(got.trades, fake.tape);
      assert.ok(fake.connections >= 2, "reconnected");
      assert.equal(got.gaps.length, 1);
      const g = got.gaps[0];
      assert.deepEqual([g.reason, g.afterTradeId, g.missing], [
        "disconnect",
        fake.tape[299].tradeId,
        0,
      ]);
      // Bounded by the first held trade (a subscription snapshot), or open-ended: the next id.
      const end = BigInt(fake.tape[1_299].tradeId) + 1n;
      assert.ok(BigInt(g.beforeTradeId) <= end, `before ${g.beforeTradeId}`);
      assert.equal(BigInt(g.recovered), BigInt(g.beforeTradeId) - BigInt(g.afterTradeId) - 1n);
      await delay(300);
      assert.equal(got.trades.length, 1_300, "nothing more, nothing twice");
    } finally {
      await feed.close();
      await fake.stop();
    }
  });
}

Deno.test("a reconnect on a quiet tape that missed nothing fetches once, records no gap, and live trades after it flow", async () => {
  const fake = await startFakeExchange({
    exchange: "binance",
    trades: 600,
    ratePerSec: 5_000,
    clockUntil: 300,
  });
  const { feed, got } = feedFor([fake]);
  try {
    feed.start();
    await waitFor(() => got.trades.length >= 300, "the first 300 trades");
    const before = fake.rest.requests.length;
    fake.dropAll();
    await waitFor(() => fake.connections >= 2 && fake.subscribers() === 1, "the reconnect");
    await waitFor(() => logged("feed.backfill_started").length === 1, "the catch-up");
    await waitFor(() => !feed.snapshot()["binance:BTC-USDT"].backfilling, "the catch-up's end");
    assert.equal(fake.rest.requests.length - before, 1, "one page: nothing newer");
    assert.equal(got.gaps.length, 0, "nothing was missing: no gap record");
    fake.advance(300);
    await waitFor(() => got.trades.length >= 600, "live trades after it");
    assertExactlyTape(got.trades, fake.tape);
    assert.equal(got.gaps.length, 0);
  } finally {
    await feed.close();
    await fake.stop();
  }
});

Deno.test("a start seeded from storage while the tape is quiet recovers what was published while down, without a live trade", async () => {
  const fake = await startFakeExchange({
    exchange: "binance",
    trades: 800,
    clockUntil: 0,
    pauseWhileDisconnected: false,
  });
  fake.advance(800);
  const stored = fake.tape[99];
  const { feed, got } = feedFor([fake], {
    initialLast: {
      "binance:BTC-USDT": { tradeId: stored.tradeId, ts: stored.ts, id: `${stored.ts}-1` },
    },
  });
  try {
    feed.start();
    await waitFor(
      () => got.trades.length >= 700 && got.gaps.length > 0,
      "what was published while down",
    );
    assertExactlyTape(got.trades, fake.tape.slice(100));
    assert.deepEqual(got.gaps.map((g) => [g.reason, g.recovered, g.missing]), [[
      "disconnect",
      700,
      0,
    ]]);
  } finally {
    await feed.close();
    await fake.stop();
  }
});

Deno.test("live trades arriving during a catch-up are held and follow the backfill, in order and once", async () => {
  const fake = await startFakeExchange({
    exchange: "binance",
    trades: 8_000,
    ratePerSec: 2_000,
    clockUntil: 200,
    restFaults: { pageDelayMs: 150 },
  });
  const { feed, got } = feedFor([fake]);
  try {
    feed.start();
    await waitFor(() => got.trades.length >= 200, "the first trades");
    fake.outage(300);
    for (let i = 0; i < 5; i++) fake.advance(1_000); // five pages to catch up
    await waitFor(() => fake.subscribers() === 1, "the reconnect", 10_000);
    fake.advance(2_800); // live while the catch-up runs
    await waitFor(() => got.trades.length >= 8_000, "everything", 15_000);
    assertExactlyTape(got.trades, fake.tape);
    assert.equal(got.gaps.length, 1);
    assert.equal(got.gaps[0].missing, 0);
    assert.equal(got.gaps[0].beforeTradeId, fake.tape[5_200].tradeId, "bounded by a held trade");
  } finally {
    await feed.close();
    await fake.stop();
  }
});
