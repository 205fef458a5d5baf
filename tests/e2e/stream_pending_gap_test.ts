/**
 * Pending gaps survive restarts: a gap being backfilled is kept in the data directory with its
 * progress, and the live trades held behind it are on disk, not in memory. A `kill -9` mid-gap
 * and a restart resume it from where the journal ends, held trades still behind it, in order.
 */

import { deepStrictEqual as assertEquals, ok } from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { join } from "node:path";
import { runCli, waitFor } from "../support/cli.ts";
import { assertFullTape, awaitGapEntries, tradeCount, withEnv } from "./_harness.ts";

const START_ID = 3_000_000;
const GAP = 30_000;

/** Rows of `table` in the data dir's store, read by a separate connection. */
function rows(dataDir: string, sql: string): number {
  const db = new DatabaseSync(join(dataDir, "outbox.sqlite"), { readOnly: true });
  try {
    return Number((db.prepare(sql).get() as { n: number }).n);
  } finally {
    db.close();
  }
}

Deno.test("binance: kill -9 mid-gap, then a restart: the pending gap resumes with its held live trades behind it, the full tape once and in order, health warns while it is pending", async () => {
  const trades = 1_000 + GAP + 6_000;
  await withEnv([{
    exchange: "binance",
    trades,
    ratePerSec: 2_000,
    startTradeId: START_ID,
    skipIds: [START_ID + 1_000, START_ID + 999 + GAP],
    startMicros: Date.now() * 1000,
    restFaults: { pageDelayMs: 400 },
  }], async (env) => {
    const fake = env.fakes[0];
    const market = fake.tape[0].market;
    env.startStream();
    const progress = await waitFor(
      () => {
        const r = env.status()?.markets[market]?.recovering;
        return r && r.recovered >= 5_000 && r.held >= 1_500 ? r : null;
      },
      30_000,
      "a gap half recovered with live trades held",
    );
    assertEquals([progress.reason, progress.afterTradeId], ["id_gap", fake.tape[999].tradeId]);
    ok(progress.remaining !== null && progress.remaining <= GAP - 5_000, "remaining is known");
    const onDisk = rows(env.dataDir, "SELECT count(*) AS n FROM held_trades");
    ok(onDisk >= progress.held - 1_000, `held trades are on disk (${onDisk} of ${progress.held})`);
    const health = await runCli([
      "health",
      "--json",
      "--primary",
      env.redis.url,
      "--data-dir",
      env.dataDir,
    ]);
    const check = JSON.parse(health.stdout).checks[`gap-${market}:pending`][0];
    assertEquals(check.status, "warn");
    ok(check.output.startsWith(`${market}: gap pending`), check.output);

    env.stream!.kill("SIGKILL");
    await env.stream!.status;
    assertEquals(rows(env.dataDir, "SELECT count(*) AS n FROM pending_gaps"), 1, "still pending");
    ok(rows(env.dataDir, "SELECT count(*) AS n FROM held_trades") > 0, "held trades kept");

    const restarted = env.startStream();
    await restarted.waitForLine(/feed\.backfill_resumed/, 15_000);
    await waitFor(
      async () => (await tradeCount(env.client, market)) >= trades,
      60_000,
      "the full tape after the restart",
    );
    await assertFullTape(env.client, fake);
    const gaps = await awaitGapEntries(env.client, market);
    assertEquals(
      [gaps[0].reason, gaps[0].after_trade_id, gaps[0].before_trade_id, gaps[0].recovered],
      ["id_gap", fake.tape[999].tradeId, fake.tape[1_000 + GAP].tradeId, String(GAP)],
    );
    ok(gaps.every((g) => g.missing === "0"), "nothing missing");
    await waitFor(() => env.status()?.markets[market]?.recovering === null, 10_000, "finished");
    assertEquals(rows(env.dataDir, "SELECT count(*) AS n FROM pending_gaps"), 0);
    assertEquals(rows(env.dataDir, "SELECT count(*) AS n FROM held_trades"), 0);
  });
});
