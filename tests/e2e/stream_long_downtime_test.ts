/**
 * Restarts after long downtime and REST outages, through the real CLI: everything the exchange's
 * history still has is recovered, the rest is recorded with its exact count; a gap whose REST
 * fails for a while (across a stop and a restart, even) ends with the full tape.
 */

import { deepStrictEqual as assertEquals, ok } from "node:assert/strict";
import { waitFor } from "../support/cli.ts";
import { assertFullTape, awaitGapEntries, gapEntries, tradeCount, withEnv } from "./_harness.ts";

const START_ID = 7_000_000;

Deno.test("binance: down while the fake published more than its history keeps: on restart all it still has is recovered, the rest is a gap with the exact missing count", async () => {
  const down = 20_000;
  const lost = 5_000; // the oldest trades published while down are gone from the history
  await withEnv([{
    exchange: "binance",
    trades: 1_000 + down,
    ratePerSec: 2_000,
    startTradeId: START_ID,
    clockUntil: 1_000,
    restRetainFromId: START_ID + 1_000 + lost,
    startMicros: Date.now() * 1000,
  }], async (env) => {
    const fake = env.fakes[0];
    const market = fake.tape[0].market;
    env.startStream();
    await waitFor(async () => (await tradeCount(env.client, market)) >= 1_000, 20_000, "trades");
    await env.stream!.stop();
    fake.advance(down);
    env.startStream();
    const kept = fake.tape.filter((_, i) => i < 1_000 || i >= 1_000 + lost);
    await waitFor(
      async () => (await tradeCount(env.client, market)) >= kept.length,
      30_000,
      "what the history still had",
    );
    await assertFullTape(env.client, { ...fake, tape: kept });
    const gaps = await awaitGapEntries(env.client, market);
    assertEquals(
      gaps.map((g) => [g.reason, g.after_trade_id, g.recovered, g.missing]),
      [["disconnect", fake.tape[999].tradeId, String(down - lost), String(lost)]],
    );
    assertEquals(BigInt(gaps[0].before_trade_id), BigInt(fake.tape.at(-1)!.tradeId) + 1n);
    ok(env.stream!.lines.some((l) => l.includes("feed.backfill_incomplete")), "logged");
  });
});

Deno.test("binance: REST failing with 5xx for 15 s mid-gap, with a stop and a restart during the failure, then healing: the full tape, once and in order", async () => {
  const gap = 20_000;
  await withEnv([{
    exchange: "binance",
    trades: 1_000 + gap + 3_000,
    ratePerSec: 1_000,
    startTradeId: START_ID,
    skipIds: [START_ID + 1_000, START_ID + 999 + gap],
    clockUntil: 1_000,
    startMicros: Date.now() * 1000,
    restFaults: { failFromRequest: 3, failStatus: 503, failForMs: 15_000, pageDelayMs: 100 },
  }], async (env) => {
    const fake = env.fakes[0];
    const market = fake.tape[0].market;
    env.startStream();
    await waitFor(async () => (await tradeCount(env.client, market)) >= 1_000, 20_000, "trades");
    fake.advance(gap); // skipped on the WebSocket, served by REST
    fake.clockTo(fake.tape.length);
    await waitFor(() => fake.rest.failures >= 3, 20_000, "REST failing");
    const r = await waitFor(
      () => env.status()?.markets[market]?.recovering ?? null,
      5_000,
      "pending",
    );
    ok(r.recovered < gap, `not finished while REST fails (${r.recovered})`);
    await env.stream!.stop();
    env.startStream();
    await env.stream!.waitForLine(/feed\.backfill_resumed/, 15_000);
    await waitFor(
      async () => (await tradeCount(env.client, market)) >= fake.tape.length,
      60_000,
      "the full tape after REST healed",
    );
    await assertFullTape(env.client, fake);
    const gaps = await gapEntries(env.client, market);
    ok(gaps.length >= 1, "the gap is recorded");
    ok(gaps.every((g) => g.missing === "0"), JSON.stringify(gaps));
    assertEquals(gaps[0].recovered, String(gap));
  });
});
