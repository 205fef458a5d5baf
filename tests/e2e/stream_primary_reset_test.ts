/**
 * A primary that loses data it had acknowledged is repaired from the journal: restarted empty
 * (persistence off, as many caches run), restarted from an older snapshot (RDB), or replaced by
 * a promoted replica that had missed the last writes. Each is checked trade by trade on the
 * primary, with its `primary_reset` gap record and the health warning while repairing.
 */

import { deepEqual as assertEquals, ok as assert } from "node:assert/strict";
import { Redis } from "ioredis";
import { runCli, waitFor } from "../support/cli.ts";
import { startRedis } from "../support/redis_server.ts";
import { assertFullTape, gapEntries, tradeCount, withEnv } from "./_harness.ts";

const TRADES = 6_000;
const ARGS = ["--hold-down-ms", "300"];

const tape = () => ({
  exchange: "binance" as const,
  trades: TRADES,
  ratePerSec: 1_000,
  startMicros: Date.now() * 1000,
});

async function allOnPrimary(env: Parameters<Parameters<typeof withEnv>[1]>[0], market: string) {
  await waitFor(
    async () => {
      const s = env.status();
      return s?.mode === "primary" && s.outbox.depth === 0 && !s.repairing &&
        (await tradeCount(env.client, market)) >= TRADES;
    },
    60_000,
    `all ${TRADES} trades back on the primary`,
  );
}

Deno.test("a primary restarted empty mid-stream gets every trade back from the journal, a primary_reset gap record, health back to pass", async () => {
  await withEnv([tape()], async (env) => {
    const market = env.fakes[0].tape[0].market;
    const stream = env.startStream(ARGS);
    await stream.waitForLine(/stream started/);
    await waitFor(async () => (await tradeCount(env.client, market)) > 2_000, 20_000, "trades");
    await env.redis.restart(); // --save "" --appendonly no: it comes back empty
    await stream.waitForLine(/primary lost trades it had acknowledged/, 30_000);
    await allOnPrimary(env, market);
    await assertFullTape(env.client, env.fakes[0]);
    const resets = (await gapEntries(env.client, market)).filter((g) =>
      g.reason === "primary_reset"
    );
    assertEquals(resets.length, 1, JSON.stringify(resets));
    assert(Number(resets[0].recovered) > 2_000, JSON.stringify(resets[0]));
    assertEquals(resets[0].missing, "0");
    const s = env.status()!;
    assertEquals(s.counters.primaryResets, 1);
    assertEquals(s.counters.reconciledTrades, Number(resets[0].recovered));
    // Repaired: health is back to pass on this point (its warning is proven in report_test).
    const after = await runCli([
      "health",
      "--json",
      "--data-dir",
      env.dataDir,
      "--primary",
      env.redis.url,
    ]);
    assertEquals(JSON.parse(after.stdout).checks["redis-primary:reconciliation"], undefined);
  });
});

Deno.test("a primary restarted from an older RDB snapshot gets the trades after the snapshot back, once, in order", async () => {
  await withEnv([tape()], async (env) => {
    const market = env.fakes[0].tape[0].market;
    const stream = env.startStream(ARGS);
    await stream.waitForLine(/stream started/);
    await waitFor(async () => (await tradeCount(env.client, market)) > 1_500, 20_000, "trades");
    await env.client.save(); // the older snapshot
    await waitFor(async () => (await tradeCount(env.client, market)) > 3_500, 20_000, "more");
    env.redis.kill("SIGKILL");
    await env.redis.exited;
    await env.redis.restart(); // loads dump.rdb: the trades after the SAVE are gone
    await stream.waitForLine(/primary lost trades it had acknowledged/, 30_000);
    await allOnPrimary(env, market);
    await assertFullTape(env.client, env.fakes[0]);
    const resets = (await gapEntries(env.client, market)).filter((g) =>
      g.reason === "primary_reset"
    );
    assertEquals(resets.length, 1);
    assert(resets[0].after_trade_id !== "", "the snapshot's newest trade bounds the gap");
  });
});

Deno.test("a promoted replica that missed the last writes gets them from the journal", async () => {
  await withEnv([tape()], async (env) => {
    const market = env.fakes[0].tape[0].market;
    const replica = await startRedis();
    const replicaClient = new Redis(replica.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
    replicaClient.on("error", () => {});
    try {
      await replicaClient.replicaof("127.0.0.1", String(env.redis.port));
      await waitFor(
        async () => (await replicaClient.info("replication")).includes("master_link_status:up"),
        20_000,
        "the replica in sync",
      );
      const stream = env.startStream(ARGS);
      await stream.waitForLine(/stream started/);
      await waitFor(async () => (await tradeCount(env.client, market)) > 1_500, 20_000, "trades");
      await replicaClient.replicaof("NO", "ONE"); // stops replicating: it misses what follows
      await waitFor(async () => (await tradeCount(env.client, market)) > 3_000, 20_000, "more");
      const behind = await tradeCount(replicaClient, market);
      assert(behind < (await tradeCount(env.client, market)), "the replica is behind");
      // Promote it: the old primary restarts as a replica of it, and takes its (older) data.
      await env.client.replicaof("127.0.0.1", String(replica.port));
      await waitFor(
        async () => (await env.client.info("replication")).includes("master_link_status:up"),
        20_000,
        "the old primary following the promoted one",
      );
      await env.client.replicaof("NO", "ONE");
      await stream.waitForLine(/primary lost trades it had acknowledged/, 30_000);
      await allOnPrimary(env, market);
      await assertFullTape(env.client, env.fakes[0]);
    } finally {
      replicaClient.disconnect();
      await replica.stop();
    }
  });
});
