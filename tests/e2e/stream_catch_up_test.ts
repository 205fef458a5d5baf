/**
 * Catch-up through the real CLI: a disconnect (or a stop) whose tape goes quiet before the
 * reconnect (or restart) is recovered at once over REST, without waiting for a live trade.
 */

import { deepStrictEqual as assertEquals, ok } from "node:assert/strict";
import { waitFor } from "../support/cli.ts";
import { assertFullTape, awaitGapEntries, tradeCount, withEnv } from "./_harness.ts";

const delay = (ms: number) => new Promise((r) => setTimeout(r, ms));

Deno.test("binance: 1,000 trades published during a 5 s disconnect, none after: all in the primary within seconds of the reconnect, in order, once each", async () => {
  await withEnv([{
    exchange: "binance",
    trades: 1_300,
    ratePerSec: 2_000,
    clockUntil: 300,
    startMicros: Date.now() * 1000,
  }], async (env) => {
    const fake = env.fakes[0];
    const market = fake.tape[0].market;
    env.startStream();
    await waitFor(async () => (await tradeCount(env.client, market)) >= 300, 20_000, "trades");
    fake.outage(5_000);
    for (let i = 0; i < 10; i++) {
      fake.advance(100);
      await delay(400);
    }
    const quietFrom = Date.now();
    await waitFor(() => fake.subscribers() === 1, 15_000, "the reconnect");
    const reconnectedAt = Date.now();
    await waitFor(async () => (await tradeCount(env.client, market)) >= 1_300, 5_000, "all");
    const took = Date.now() - reconnectedAt;
    ok(took < 3_000, `in the primary ${took} ms after the reconnect`);
    ok(Date.now() - quietFrom < 15_000, "within seconds of the outage's end");
    await assertFullTape(env.client, fake);
    const gaps = await awaitGapEntries(env.client, market);
    assertEquals(gaps.map((g) => [g.reason, g.after_trade_id, g.recovered, g.missing]), [[
      "disconnect",
      fake.tape[299].tradeId,
      "1000",
      "0",
    ]]);
  });
});

Deno.test("binance: a restart after the tape moved on while btcfeed was stopped recovers what was published while down, without a live trade after the restart", async () => {
  await withEnv([{
    exchange: "binance",
    trades: 2_300,
    ratePerSec: 2_000,
    clockUntil: 300,
    startMicros: Date.now() * 1000,
  }], async (env) => {
    const fake = env.fakes[0];
    const market = fake.tape[0].market;
    env.startStream();
    await waitFor(async () => (await tradeCount(env.client, market)) >= 300, 20_000, "trades");
    await env.stream!.stop();
    fake.advance(2_000);
    env.startStream();
    await waitFor(async () => (await tradeCount(env.client, market)) >= 2_300, 15_000, "all");
    await assertFullTape(env.client, fake);
    const gaps = await awaitGapEntries(env.client, market);
    assertEquals(gaps.map((g) => [g.reason, g.recovered, g.missing]), [[
      "disconnect",
      "2000",
      "0",
    ]]);
    await delay(500);
    assertEquals(await tradeCount(env.client, market), 2_300, "nothing twice");
  });
});
