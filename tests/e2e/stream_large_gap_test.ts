/**
 * No trade cap and flat memory: a gap far beyond any page or window is recovered through the
 * real CLI against a fake Binance enforcing its published REST limit (6,000 weight a minute,
 * `historicalTrades` weighs 25), while live trades keep arriving and are held on disk. The RSS
 * of the btcfeed process is read from /proc while it runs.
 *
 * The stream runs with V8's old generation capped at 32 MB (`DENO_V8_FLAGS`), so its RSS follows
 * what it really keeps: a process holding the gap, its pages or the held live trades in memory
 * would grow with the gap, or die at the cap ("Reached heap limit"). Uncapped, V8 lets the heap
 * grow by about 100 MB under this load before collecting (a no-gap stream at 1,000 trades/s too),
 * which says nothing about what is kept.
 *
 * The default run recovers 60,000 trades (within the budget's burst: seconds); with
 * `BTCFEED_LONG_TESTS=1` it recovers 300,000 (paced by the budget: about two minutes).
 */

import { deepStrictEqual as assertEquals, ok } from "node:assert/strict";
import { waitFor } from "../support/cli.ts";
import { assertFullTape, awaitGapEntries, tradeCount, withEnv } from "./_harness.ts";

const LONG = Deno.env.get("BTCFEED_LONG_TESTS") === "1";
const GAP = LONG ? 300_000 : 60_000;
const LIVE_AFTER = LONG ? 60_000 : 15_000;
const START_ID = 5_000_000;
const V8_FLAGS = "--max-old-space-size=32";
/**
 * Most the btcfeed process's RSS may grow over its value just before the gap. Measured (2 cores,
 * shared, old generation capped): +20.5 MB peak for 60,000 trades, +19.7 MB for 300,000 — the
 * same, whatever the gap's size.
 */
const RSS_GROWTH_LIMIT_MB = 40;
/** Most it may grow after the first 10 s of the backfill (measured: 300,000 trades, +2 MB). */
const RSS_CREEP_LIMIT_MB = 10;

/** VmRSS of `pid` in MB, read with `cat` (Deno reads another pid's /proc only with -A). */
async function rssMb(pid: number): Promise<number | null> {
  const out = await new Deno.Command("cat", { args: [`/proc/${pid}/status`], stderr: "null" })
    .output();
  const m = /^VmRSS:\s+(\d+) kB$/m.exec(new TextDecoder().decode(out.stdout));
  return m ? Number(m[1]) / 1024 : null;
}

Deno.test(`binance: a gap of ${GAP} trades is fully recovered in order within the fake's REST limit, live trades held on disk, RSS within +${RSS_GROWTH_LIMIT_MB} MB and flat after 10 s`, async () => {
  const trades = 1_000 + GAP + LIVE_AFTER;
  await withEnv([{
    exchange: "binance",
    trades,
    ratePerSec: 1_000,
    startTradeId: START_ID,
    skipIds: [START_ID + 1_000, START_ID + 999 + GAP],
    startMicros: Date.now() * 1000,
    clockUntil: 1_000,
    restLimits: { units: 6_000, windowMs: 60_000, cost: 25, banAfterViolations: 1 },
  }], async (env) => {
    const fake = env.fakes[0];
    const market = fake.tape[0].market;
    const started = Date.now();
    const stream = env.startStream([], undefined, { DENO_V8_FLAGS: V8_FLAGS });
    // Before the gap: the process at work, warmed up. Then the exchange skips GAP ids at once
    // (REST has them) and the live tape goes on at 1,000 trades/s.
    await waitFor(async () => (await tradeCount(env.client, market)) >= 1_000, 30_000, "trades");
    const baseline = (await rssMb(stream.pid))!;
    fake.advance(GAP);
    fake.clockTo(trades);
    let peak = baseline;
    let maxHeld = 0;
    const samples: number[] = [];
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const mb = await rssMb(stream.pid);
        if (mb !== null) peak = Math.max(peak, mb);
        if (mb !== null) samples.push(mb);
        maxHeld = Math.max(maxHeld, env.status()?.markets[market]?.recovering?.held ?? 0);
        await new Promise((r) => setTimeout(r, 250));
      }
    })();
    try {
      await waitFor(
        async () => (await tradeCount(env.client, market)) >= trades,
        LONG ? 400_000 : 90_000,
        "the full tape",
      );
    } finally {
      sampling = false;
      await sampler;
    }
    const seconds = (Date.now() - started) / 1000;
    await assertFullTape(env.client, fake);
    const gaps = await awaitGapEntries(env.client, market);
    assertEquals(gaps.map((g) => [g.reason, g.recovered, g.missing]), [[
      "id_gap",
      String(GAP),
      "0",
    ]]);
    const rest = fake.rest;
    assertEquals({ violations: rest.violations, bans: rest.bans }, { violations: 0, bans: 0 });
    const perMinute = rest.maxUnitsIn(60_000);
    ok(perMinute <= 6_000, `within 6000 weight a minute (${perMinute})`);
    const growth = peak - baseline;
    console.log(
      `gap ${GAP}: ${seconds.toFixed(1)} s, ${rest.requests.length} requests, ` +
        `max ${perMinute} weight/min, RSS ${baseline.toFixed(1)} → peak ${peak.toFixed(1)} MB ` +
        `(+${growth.toFixed(1)}), at most ${maxHeld} live trades held; RSS every 5 s: ` +
        samples.filter((_, i) => i % 20 === 0).map((x) => x.toFixed(0)).join(" "),
    );
    ok(maxHeld > 500, `live trades were held behind the gap (${maxHeld})`);
    ok(growth <= RSS_GROWTH_LIMIT_MB, `RSS grew ${growth.toFixed(1)} MB`);
    const settled = samples[Math.min(samples.length - 1, 40)]; // 10 s in (a sample per 250 ms)
    const creep = Math.max(...samples.slice(40), settled) - settled;
    ok(creep <= RSS_CREEP_LIMIT_MB, `RSS crept ${creep.toFixed(1)} MB after the first 10 s`);
  });
});
