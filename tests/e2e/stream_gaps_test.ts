/**
 * Source gaps end to end: trades the WebSocket never delivered are fetched over REST and written
 * in order, and every gap is recorded in `P:{<market>}:gaps`; where the exchange has no way to
 * recover them, the gap is recorded and nothing is invented.
 */

import { deepStrictEqual as assertEquals, ok } from "node:assert/strict";
import { waitFor } from "../support/cli.ts";
import { freePort } from "../support/redis_server.ts";
import { marketKeys } from "../../lib/redis/keys.ts";
import type { FakeExchange } from "../support/fake_exchange.ts";
import { assertFullTape, type Env, gapEntries, tradeCount, withEnv } from "./_harness.ts";

const START_ID = 1_000_000;

for (const exchange of ["binance", "coinbase", "kraken"]) {
  Deno.test(`${exchange}: trade ids the WebSocket skipped are backfilled over REST, in order and once, and the gap is recorded as recovered`, async () => {
    const trades = 1_500;
    await withEnv([{
      exchange,
      trades,
      ratePerSec: 3_000,
      startTradeId: START_ID,
      skipIds: [START_ID + 600, START_ID + 649],
      startMicros: Date.now() * 1000,
    }], async (env) => {
      const fake = env.fakes[0];
      const market = fake.tape[0].market;
      const port = await freePort();
      env.startStream(["--http", `127.0.0.1:${port}`]);
      await waitFor(async () => (await tradeCount(env.client, market)) >= trades, 30_000, "all");
      await assertFullTape(env.client, fake);
      const gaps = await waitFor(
        async () => {
          const g = await gapEntries(env.client, market);
          return g.length ? g : null;
        },
        5_000,
        "a gap record",
      );
      assertEquals(gaps.length, 1);
      const { id: _, ...fields } = gaps[0];
      const before = fake.tape[650];
      const after = fake.tape[599];
      assertEquals(fields, {
        reason: "id_gap",
        after_trade_id: after.tradeId,
        before_trade_id: before.tradeId,
        from_ts: String(after.ts),
        to_ts: String(before.ts),
        recovered: "50",
        missing: "0",
      });
      await waitFor(() => env.status()?.markets[market]?.gapsBackfilled === 1, 5_000, "status");
      assertEquals(env.status()!.markets[market].gaps, 1);
      await waitFor(() => env.status()?.gapRecords.written === 1, 5_000, "gap record counted");
      const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      for (const name of ["btcfeed_market_gaps_total", "btcfeed_market_gaps_backfilled_total"]) {
        ok(metrics.includes(`${name}{market="${market}"} 1`), `${name} in /metrics`);
      }
      ok(metrics.includes('btcfeed_gap_records_total{outcome="written"} 1'), "gap records");
    });
  });
}

/** Index in `fake.tape` of the first trade the primary holds (the tape ran before we connected). */
async function firstStored(env: Env, fake: FakeExchange): Promise<number> {
  const market = fake.tape[0].market;
  const [[, f]] = await env.client.xrange(
    marketKeys("btcfeed", market).trades,
    "-",
    "+",
    "COUNT",
    1,
  );
  return fake.tape.findIndex((t) => t.tradeId === f[f.indexOf("trade_id") + 1]);
}

Deno.test("binance: trades published while the connection was down are backfilled after the reconnect, and a disconnect gap is recorded", async () => {
  await withEnv([{
    exchange: "binance",
    trades: 3_000,
    ratePerSec: 1_000,
    pauseWhileDisconnected: false,
    startMicros: Date.now() * 1000,
  }], async (env) => {
    const fake = env.fakes[0];
    const market = fake.tape[0].market;
    env.startStream();
    await waitFor(async () => (await tradeCount(env.client, market)) >= 300, 20_000, "trades");
    fake.dropAll();
    await fake.done;
    // The fake's clock started before the stream connected: expect the tape from there on.
    const tape = fake.tape.slice(await firstStored(env, fake));
    await waitFor(async () => (await tradeCount(env.client, market)) >= tape.length, 10_000, "all");
    ok(fake.connections >= 2, "the fake saw a reconnect");
    await assertFullTape(env.client, { ...fake, tape });
    const gaps = await waitFor(
      async () => {
        const g = await gapEntries(env.client, market);
        return g.length ? g : null;
      },
      5_000,
      "a gap record",
    );
    assertEquals(gaps.length, 1);
    const g = gaps[0];
    assertEquals([g.reason, g.missing], ["disconnect", "0"]);
    const missed = Number(g.before_trade_id) - Number(g.after_trade_id) - 1;
    ok(missed > 0, `trades were missed while disconnected (${missed})`);
    assertEquals(Number(g.recovered), missed);
  });
});

Deno.test("bitstamp (no trade-id continuity): a disconnect is recorded with the missing count unknown, and nothing is invented for the window", async () => {
  await withEnv([{
    exchange: "bitstamp",
    trades: 3_000,
    ratePerSec: 1_000,
    pauseWhileDisconnected: false,
    startMicros: Date.now() * 1000,
  }], async (env) => {
    const fake = env.fakes[0];
    const market = fake.tape[0].market;
    env.startStream();
    await waitFor(async () => (await tradeCount(env.client, market)) >= 300, 20_000, "trades");
    fake.dropAll();
    await fake.done;
    const gaps = await waitFor(
      async () => {
        const g = await gapEntries(env.client, market);
        return g.length ? g : null;
      },
      10_000,
      "a gap record",
    );
    assertEquals(gaps.length, 1);
    const g = gaps[0];
    assertEquals([g.reason, g.recovered, g.missing], ["disconnect", "0", ""]);
    // The trades strictly inside the window are missing; every other one is there, in order.
    const inWindow = (id: string) =>
      BigInt(id) > BigInt(g.after_trade_id) && BigInt(id) < BigInt(g.before_trade_id);
    const tape = fake.tape.slice(await firstStored(env, fake));
    const expected = tape.filter((t) => !inWindow(t.tradeId)).map((t) => t.tradeId);
    ok(expected.length < tape.length, "the window held trades");
    await waitFor(
      async () => (await tradeCount(env.client, market)) >= expected.length,
      10_000,
      "trades outside the window",
    );
    const stored = await env.client.xrange(marketKeys("btcfeed", market).trades, "-", "+");
    const ids = stored.map(([, f]) => f[f.indexOf("trade_id") + 1]);
    assertEquals(ids, expected);
    assertEquals(g.after_trade_id, ids[ids.indexOf(g.before_trade_id) - 1]);
  });
});
