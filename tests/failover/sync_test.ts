/** `btcfeed sync`: replays the outbox exactly once and in order, whatever interrupts it. */

import { deepStrictEqual as assertEquals, match, ok } from "node:assert/strict";
import { Redis } from "ioredis";
import { startRedis } from "../support/redis_server.ts";
import { BTCFEED_PERMISSIONS, runCli, spawnCli, waitFor } from "../support/cli.ts";
import { assertClean, Rig, sleep } from "../support/rig.ts";
import { Journal } from "../../lib/store/journal.ts";
import { GapStore } from "../../lib/store/gap_store.ts";
import { marketKeys } from "../../lib/redis/keys.ts";
import { entryIdFor, type Trade } from "../../lib/trade.ts";

const MARKET = "binance:BTC-USDT";

function syntheticTrades(n: number): Trade[] {
  const start = 1_785_312_345_000;
  return Array.from({ length: n }, (_, i) => {
    const ts = start + Math.floor(i / 7);
    const tradeId = String(5_000_000_000 + i);
    return {
      market: MARKET,
      tradeId,
      price: `${117_000 + (i % 500)}.${String(i % 100).padStart(2, "0")}`,
      size: `0.${String(1 + (i % 9_999)).padStart(8, "0")}`,
      side: i % 3 ? "buy" : "sell",
      ts,
      receivedAt: ts + 3,
      id: entryIdFor(ts, tradeId),
    };
  });
}

function fillOutbox(dataDir: string, trades: Trade[]) {
  const outbox = Journal.open(dataDir);
  for (let i = 0; i < trades.length; i += 5_000) {
    const outcome = outbox.append(trades.slice(i, i + 5_000));
    ok(outcome.ok, JSON.stringify(outcome));
  }
  outbox.close();
}

/** The primary's stream holds exactly `trades`, in order. */
async function assertExactly(redis: Redis, trades: Trade[]) {
  const ids = (await redis.xrange(marketKeys("btcfeed", MARKET).trades, "-", "+")).map(([id]) =>
    id
  );
  assertEquals(ids.length, trades.length, "count");
  for (let i = 0; i < trades.length; i++) {
    if (ids[i] !== trades[i].id) assertEquals(ids[i], trades[i].id, `entry ${i}`);
  }
}

Deno.test("sync --dry-run reports and changes nothing; sync --json replays everything once", async () => {
  const redis = await startRedis();
  const dataDir = await Deno.makeTempDir();
  const client = new Redis(redis.url);
  try {
    const trades = syntheticTrades(20_000);
    fillOutbox(dataDir, trades);
    const dry = await runCli([
      "sync",
      "--dry-run",
      "--json",
      "--primary",
      redis.url,
      "--data-dir",
      dataDir,
    ]);
    assertEquals(dry.code, 0, dry.stderr);
    const plan = JSON.parse(dry.stdout);
    assertEquals(plan.wouldReplay, 20_000);
    assertEquals(await client.exists(marketKeys("btcfeed", MARKET).trades), 0);

    const run = await runCli(["sync", "--json", "--primary", redis.url, "--data-dir", dataDir]);
    assertEquals(run.code, 0, run.stderr);
    const summary = JSON.parse(run.stdout);
    assertEquals([summary.replayed, summary.skipped, summary.remaining], [20_000, 0, 0]);
    ok(typeof summary.seconds === "number");
    await assertExactly(client, trades);

    fillOutbox(dataDir, trades.slice(0, 1_000)); // already present: skipped, not doubled
    const again = JSON.parse(
      (await runCli(["sync", "--json", "--primary", redis.url, "--data-dir", dataDir])).stdout,
    );
    assertEquals([again.replayed, again.skipped, again.remaining], [0, 1_000, 0]);
    await assertExactly(client, trades);
  } finally {
    client.disconnect();
    await redis.stop();
    await Deno.remove(dataDir, { recursive: true });
  }
});

Deno.test("sync killed -9 mid-replay and run again replays every trade exactly once", async () => {
  const redis = await startRedis();
  const dataDir = await Deno.makeTempDir();
  const client = new Redis(redis.url);
  try {
    const trades = syntheticTrades(200_000);
    fillOutbox(dataDir, trades);
    const key = marketKeys("btcfeed", MARKET).trades;
    for (let round = 0; round < 2; round++) {
      const sync = spawnCli(["sync", "--primary", redis.url, "--data-dir", dataDir]);
      const floor = (round + 1) * 20_000;
      await waitFor(async () => (await client.xlen(key)) > floor, 30_000, "replay under way");
      sync.kill("SIGKILL");
      await sync.status;
    }
    const partial = await client.xlen(key);
    ok(partial > 0 && partial < 200_000, `killed mid-replay at ${partial}`);
    const rerun = await runCli(["sync", "--json", "--primary", redis.url, "--data-dir", dataDir]);
    assertEquals(rerun.code, 0, rerun.stderr);
    const summary = JSON.parse(rerun.stdout);
    assertEquals(summary.remaining, 0);
    assertEquals(summary.replayed + summary.skipped >= 200_000 - partial, true);
    await assertExactly(client, trades);
  } finally {
    client.disconnect();
    await redis.stop();
    await Deno.remove(dataDir, { recursive: true });
  }
});

Deno.test("two syncs at once: one replays under the lease, the other waits; no duplicate, no loss", async () => {
  const redis = await startRedis();
  const dataDir = await Deno.makeTempDir();
  const client = new Redis(redis.url);
  try {
    const trades = syntheticTrades(100_000);
    fillOutbox(dataDir, trades);
    const args = ["sync", "--json", "--primary", redis.url, "--data-dir", dataDir];
    const [a, b] = await Promise.all([runCli(args), runCli(args)]);
    assertEquals([a.code, b.code], [0, 0], a.stderr + b.stderr);
    const [sa, sb] = [JSON.parse(a.stdout), JSON.parse(b.stdout)];
    assertEquals(sa.replayed + sb.replayed, 100_000);
    await assertExactly(client, trades);
  } finally {
    client.disconnect();
    await redis.stop();
    await Deno.remove(dataDir, { recursive: true });
  }
});

Deno.test("sync with the primary unreachable exits 1 with a clear line and keeps the outbox", async () => {
  const dataDir = await Deno.makeTempDir();
  try {
    fillOutbox(dataDir, syntheticTrades(100));
    const r = await runCli([
      "sync",
      "--primary",
      "redis://:s3cret@127.0.0.1:1",
      "--data-dir",
      dataDir,
    ]);
    assertEquals(r.code, 1);
    match(
      r.stderr,
      /primary redis:\/\/:\*\*\*@127\.0\.0\.1:1 is unreachable; 100 trades remain in the outbox/,
    );
    ok(!r.stderr.includes("s3cret"));
    const outbox = Journal.open(dataDir);
    assertEquals(outbox.depth(), 100);
    outbox.close();
  } finally {
    await Deno.remove(dataDir, { recursive: true });
  }
});

Deno.test("sync while the stream is syncing the same outbox: no duplicate, no loss", async () => {
  const rig = await Rig.start({ trades: 4_000, ratePerSec: 1_000 });
  try {
    await rig.startStream().waitForLine(/stream started/);
    assertEquals((await rig.cli(["failover"])).code, 0);
    await waitFor(() => (rig.status()?.outbox.depth ?? 0) > 1_000, 10_000, "outbox filling");
    const release = rig.cli(["failover", "--release"]);
    await sleep(450); // the stream's hold-down is 500 ms: the two replays overlap
    const [released, sync] = await Promise.all([release, rig.cli(["sync", "--json"])]);
    assertEquals([released.code, sync.code], [0, 0], released.stderr + sync.stderr);
    assertClean(await rig.settle());
  } finally {
    await rig.stop();
  }
});

Deno.test("sync also writes gap records a stream stored while the primary was away", async () => {
  const redis = await startRedis();
  const dataDir = await Deno.makeTempDir();
  const client = new Redis(redis.url);
  try {
    const store = GapStore.open(dataDir);
    const stored = store.append({
      market: MARKET,
      reason: "disconnect",
      afterTradeId: "100",
      beforeTradeId: "250",
      fromTs: 1_785_312_345_000,
      toTs: 1_785_312_346_000,
      recovered: 0,
      missing: null,
    });
    store.close();
    const r = await runCli(["sync", "--json", "--primary", redis.url, "--data-dir", dataDir]);
    assertEquals(r.code, 0, r.stderr);
    assertEquals(JSON.parse(r.stdout).gapRecordsPending, 0);
    const entries = await client.xrange(marketKeys("btcfeed", MARKET).gaps, "-", "+");
    assertEquals(entries.map(([id]) => id), [stored.entryId]);
    const fields = Object.fromEntries(
      entries[0][1].flatMap((_, i, a) => i % 2 ? [] : [[a[i], a[i + 1]]]),
    );
    assertEquals([fields.reason, fields.after_trade_id, fields.missing], ["disconnect", "100", ""]);
  } finally {
    client.disconnect();
    await redis.stop();
    await Deno.remove(dataDir, { recursive: true });
  }
});

Deno.test("sync shows a progress bar on a terminal", async () => {
  const redis = await startRedis();
  const dataDir = await Deno.makeTempDir();
  try {
    fillOutbox(dataDir, syntheticTrades(50_000));
    const main = new URL("../../main.ts", import.meta.url).pathname;
    const cmd = [
      Deno.execPath(),
      "run",
      ...BTCFEED_PERMISSIONS,
      main,
      "sync",
      "--primary",
      redis.url,
      "--data-dir",
      dataDir,
    ].join(" ");
    const out = await new Deno.Command("script", {
      args: ["-qec", cmd, "/dev/null"],
      stdout: "piped",
      stderr: "piped",
      env: { TERM: "xterm" },
    }).output();
    const screen = new TextDecoder().decode(out.stdout);
    assertEquals(out.code, 0, screen);
    match(screen, /progress \[=+-*\] \d+% \| ETA/);
    match(screen, /50000\/50000/);
    match(screen, /replayed 50000, skipped 0 already present/);
  } finally {
    await redis.stop();
    await Deno.remove(dataDir, { recursive: true });
  }
});
