/**
 * Pending gaps survive restarts: a gap being backfilled is kept in the data directory with its
 * progress, and the live trades held behind it are on disk, not in memory. A `kill -9` mid-gap
 * and a restart resume it from where the journal ends, held trades still behind it, in order.
 */

import { deepStrictEqual as assertEquals, ok } from "node:assert/strict";
import { runCli, waitFor } from "../support/cli.ts";
import { assertPendingGapResumed, slowGapTape, storeCount, withEnv } from "./_harness.ts";

const START_ID = 3_000_000;
const GAP = 30_000;

Deno.test("binance: kill -9 mid-gap, then a restart: the pending gap resumes with its held live trades behind it, the full tape once and in order, health warns while it is pending", async () => {
  await withEnv([slowGapTape(START_ID, GAP)], async (env) => {
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
    const onDisk = storeCount(env.dataDir, "held_trades");
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
    assertEquals(storeCount(env.dataDir, "pending_gaps"), 1, "still pending");
    ok(storeCount(env.dataDir, "held_trades") > 0, "held trades kept");

    await assertPendingGapResumed(env, { afterIndex: 999, size: GAP });
  });
});
