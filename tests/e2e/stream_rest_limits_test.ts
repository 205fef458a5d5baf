/**
 * Backfill under the exchanges' REST limits, end to end through `btcfeed stream`: the fakes
 * enforce limits like the real exchanges (429 with Retry-After, 418 bans for clients that keep
 * going, 5xx bursts, Kraken's rate-limit error inside HTTP 200), and every test ends with the
 * full tape in the primary, trade by trade.
 */

import { deepStrictEqual as assertEquals, ok } from "node:assert/strict";
import { waitFor } from "../support/cli.ts";
import { freePort } from "../support/redis_server.ts";
import type { FakeExchangeOptions } from "../support/fake_exchange.ts";
import { assertFullTape, type Env, gapEntries, tradeCount, withEnv } from "./_harness.ts";

const START_ID = 2_000_000;

/** A tape whose middle `gap` trades the WebSocket never carries (REST serves them). */
function gapTape(exchange: string, gap: number, extra: Partial<FakeExchangeOptions>) {
  return {
    exchange,
    trades: gap + 2_000,
    ratePerSec: 50_000,
    startTradeId: START_ID,
    skipIds: [START_ID + 1_000, START_ID + 999 + gap] as [number, number],
    startMicros: Date.now() * 1000,
    ...extra,
  };
}

/** Waits for the whole tape, checks it trade by trade, and that the one gap is fully recovered. */
async function assertRecovered(env: Env, gap: number, timeoutMs: number): Promise<void> {
  const fake = env.fakes[0];
  const market = fake.tape[0].market;
  await waitFor(
    async () => (await tradeCount(env.client, market)) >= fake.tape.length,
    timeoutMs,
    "the full tape",
  );
  await assertFullTape(env.client, fake);
  const gaps = await waitFor(
    async () => {
      const g = await gapEntries(env.client, market);
      return g.length ? g : null;
    },
    5_000,
    "the gap record",
  );
  assertEquals(gaps.map((g) => [g.recovered, g.missing]), [[String(gap), "0"]]);
}

Deno.test("binance: a gap is backfilled fully through 429s, no request before Retry-After, within the published weight, never banned", async () => {
  const gap = 20_000;
  await withEnv([gapTape("binance", gap, {
    // 3,000 weight/min: below the 4,500 btcfeed allows itself of Binance's 6,000, so 429s happen
    // whatever the pace of the backfill; one request before Retry-After would earn a 418.
    restLimits: { units: 250, windowMs: 5_000, cost: 25, banAfterViolations: 1 },
  })], async (env) => {
    env.startStream();
    await assertRecovered(env, gap, 60_000);
    const rest = env.fakes[0].rest;
    ok(rest.rateLimited >= 1, `the fake answered 429 (${rest.rateLimited})`);
    assertEquals({ violations: rest.violations, bans: rest.bans }, { violations: 0, bans: 0 });
    const perMinute = rest.maxUnitsIn(60_000);
    ok(perMinute <= 4_500, `≤ 75 % of 6000 weight/min (${perMinute})`);
    await waitFor(() => (env.status()?.rest?.binance.rateLimited ?? 0) >= 1, 5_000, "status");
  });
});

Deno.test("binance: REST failing with 5xx for 10 s mid-gap, then healing, ends with the full tape", async () => {
  const gap = 8_000;
  await withEnv([gapTape("binance", gap, {
    restFaults: { failFromRequest: 3, failStatus: 503, failForMs: 10_000 },
  })], async (env) => {
    env.startStream();
    await assertRecovered(env, gap, 60_000);
    const rest = env.fakes[0].rest;
    ok(rest.failures >= 3, `5xx answered and retried (${rest.failures})`);
    await waitFor(() => (env.status()?.rest?.binance.retries ?? 0) >= 3, 5_000, "retries");
  });
});

Deno.test("binance: a 418 ban stops all REST to it until the ban ends, health warns naming it, and the tape is complete after", async () => {
  const gap = 8_000;
  await withEnv([gapTape("binance", gap, {
    restFaults: { banAtRequest: 3, banMs: 4_000 },
  })], async (env) => {
    const port = await freePort();
    env.startStream(["--http", `127.0.0.1:${port}`]);
    await waitFor(() => env.status()?.rest?.binance.state === "banned", 20_000, "the ban");
    const health = await (await fetch(`http://127.0.0.1:${port}/health`)).json();
    ok(
      String(health.output).includes("binance: REST banned (HTTP 418)"),
      `health names the ban: ${health.output}`,
    );
    ok(health.status === "warn" || health.status === "fail", `health ${health.status}`);
    await assertRecovered(env, gap, 60_000);
    const rest = env.fakes[0].rest;
    assertEquals({ bans: rest.bans, violations: rest.violations }, { bans: 1, violations: 0 });
    const banLines = env.stream!.lines.filter((l) => l.includes("feed.rest_banned"));
    assertEquals(banLines.length, 1, "the ban is logged once");
    const after = await (await fetch(`http://127.0.0.1:${port}/health`)).json();
    ok(!String(after.output ?? "").includes("REST banned"), "the warning ends with the ban");
  });
});

Deno.test("kraken: its rate-limit error inside an HTTP 200 body is waited out and retried until the gap is filled", async () => {
  const gap = 3_000;
  await withEnv([gapTape("kraken", gap, {
    restLimits: { units: 1, windowMs: 3_000, banAfterViolations: 1 },
  })], async (env) => {
    env.startStream();
    await assertRecovered(env, gap, 60_000);
    const rest = env.fakes[0].rest;
    ok(rest.rateLimited >= 1, `EGeneral:Too many requests answered (${rest.rateLimited})`);
    assertEquals({ violations: rest.violations, bans: rest.bans }, { violations: 0, bans: 0 });
    await waitFor(() => (env.status()?.rest?.kraken.rateLimited ?? 0) >= 1, 5_000, "status");
  });
});
