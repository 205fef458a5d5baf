/**
 * A Redis Cluster primary end to end, through the real CLI: three masters with a replica each
 * (tests/support/cluster.ts), fake exchanges, `btcfeed stream --primary redis+cluster://...`,
 * every market checked trade by trade on the cluster (0 lost, 0 duplicated, 0 reordered): a
 * plain run, a master killed mid-stream (its replica promoted), and a market's slot migrated
 * mid-stream. Prints the time from the master's death to trades landing again.
 */

import { deepStrictEqual as assertEquals, ok } from "node:assert/strict";
import type { Redis } from "ioredis";
import { type CliProcess, spawnCli, waitFor } from "../support/cli.ts";
import { type ClusterRig, startCluster } from "../support/cluster.ts";
import { type FakeExchange, startFakeExchange } from "../support/fake_exchange.ts";
import { describeVerdict, verifyMarket } from "../support/verify.ts";
import { Subscriber } from "../redis/_helpers.ts";
import { sleep } from "../support/rig.ts";
import { btcLastKey, marketKeys, tradesChannel } from "../../lib/redis/keys.ts";
import { sourceArgs } from "./_harness.ts";

const TRADES = 8_000;

interface ClusterEnv {
  cluster: ClusterRig;
  fakes: FakeExchange[];
  stream: CliProcess;
  count(market: string): Promise<number>;
}

async function withCluster(fn: (env: ClusterEnv) => Promise<void>): Promise<void> {
  const cluster = await startCluster();
  const dataDir = await Deno.makeTempDir({ prefix: "btcfeed-cluster-" });
  const fakes: FakeExchange[] = [];
  let stream: CliProcess | null = null;
  try {
    const startMicros = Date.now() * 1000;
    for (const exchange of ["binance", "coinbase"]) {
      fakes.push(
        await startFakeExchange({ exchange, trades: TRADES, ratePerSec: 1_000, startMicros }),
      );
    }
    stream = spawnCli([
      "stream",
      ...sourceArgs(fakes),
      "--primary",
      cluster.url,
      "--data-dir",
      dataDir,
      "--http",
      "off",
      "--hold-down-ms",
      "300",
    ]);
    await stream.waitForLine(/stream started/);
    const count = (m: string) =>
      cluster.client.xlen(marketKeys("btcfeed", m).trades).catch(() => -1);
    await fn({ cluster, fakes, stream, count });
    for (const f of fakes) {
      const market = f.tape[0].market;
      await waitFor(async () => (await count(market)) >= TRADES, 90_000, `all of ${market}`);
    }
    await sleep(500);
    for (const f of fakes) {
      const v = await verifyMarket(cluster.client as unknown as Redis, "btcfeed", f.tape);
      assertEquals([v.lost, v.duplicated, v.reordered], [0, 0, 0], describeVerdict(v));
      assertEquals([v.mismatched, v.badCandles, v.badLast], [[], [], null], describeVerdict(v));
    }
  } catch (e) {
    const lines = stream?.lines.slice(-30).join("\n") ?? "";
    throw new Error(`${e instanceof Error ? e.message : e}\n--- stream log ---\n${lines}`, {
      cause: e,
    });
  } finally {
    await stream?.stop();
    for (const f of fakes) await f.stop();
    await cluster.stop();
    await Deno.remove(dataDir, { recursive: true }).catch(() => {});
  }
}

/** The cluster slot of a market's keys (its hash tag). */
async function slotOf(cluster: ClusterRig, market: string): Promise<number> {
  return Number(
    await cluster.client.call("CLUSTER", "KEYSLOT", marketKeys("btcfeed", market).trades),
  );
}

Deno.test("cluster: every trade of every market lands once, in order; P:btc:last and P:trades work across slots", async () => {
  await withCluster(async ({ cluster, fakes, count }) => {
    const [binance, coinbase] = fakes.map((f) => f.tape[0].market);
    ok((await slotOf(cluster, binance)) !== (await slotOf(cluster, coinbase)));
    // A subscriber on a node that serves neither market's slot still gets every message.
    const owners = [await cluster.masterOf(await slotOf(cluster, binance))];
    owners.push(await cluster.masterOf(await slotOf(cluster, coinbase)));
    const other = cluster.nodes.find((n) => !owners.includes(n))!;
    const sub = await Subscriber.open(other.server, [tradesChannel("btcfeed")]);
    try {
      // Trades applied once the subscription is active are all published to it.
      const already = (await count(binance)) + (await count(coinbase));
      ok(already < TRADES, `subscribed early enough (${already})`);
      await waitFor(async () => (await count(binance)) >= TRADES, 60_000, "binance");
      await waitFor(async () => (await count(coinbase)) >= TRADES, 60_000, "coinbase");
      // The cluster bus relays PUBLISH between nodes asynchronously: wait for the messages.
      const want = 2 * TRADES - already;
      await waitFor(
        async () => {
          await sub.flush();
          return sub.on(tradesChannel("btcfeed")).length >= want;
        },
        10_000,
        "every trade's message",
      ).catch(() => {});
      const got = sub.on(tradesChannel("btcfeed")).length;
      ok(got >= 2 * TRADES - already && got <= 2 * TRADES, `${got} messages, ${already} before`);
      const last = await cluster.client.hgetall(btcLastKey("btcfeed"));
      assertEquals(last.market, binance);
    } finally {
      sub.close();
    }
  });
});

Deno.test("cluster: a master killed mid-stream (its replica promoted) loses, doubles and reorders nothing", async () => {
  await withCluster(async ({ cluster, fakes, count }) => {
    const market = fakes[0].tape[0].market;
    await waitFor(async () => (await count(market)) > 2_000, 30_000, "trades before the kill");
    const master = await cluster.masterOf(await slotOf(cluster, market));
    const before = await count(market);
    const killed = performance.now();
    master.server.kill("SIGKILL");
    const slot = await slotOf(cluster, market);
    const elected = waitFor(async () => (await cluster.masterOf(slot)) !== master, 60_000)
      .then(() => Math.round(performance.now() - killed));
    await waitFor(async () => (await count(market)) > before + 50, 60_000, "trades again");
    const ms = Math.round(performance.now() - killed);
    console.log(
      `cluster master kill: replica promoted after ${await elected} ms, ` +
        `trades landing again ${ms} ms after the kill`,
    );
    const promoted = await cluster.masterOf(await slotOf(cluster, market));
    ok(promoted !== master, "a replica took the slot over");
  });
});

Deno.test("cluster: a market's slot migrated to another master mid-stream loses, doubles and reorders nothing", async () => {
  await withCluster(async ({ cluster, fakes, count, stream }) => {
    const market = fakes[0].tape[0].market;
    await waitFor(async () => (await count(market)) > 2_000, 30_000, "trades before the move");
    const slot = await slotOf(cluster, market);
    const from = await cluster.masterOf(slot);
    const masters = [];
    for (const n of cluster.nodes) {
      const role = await n.client.call("ROLE") as unknown[];
      if (role[0] === "master" && n !== from) masters.push(n);
    }
    const moved = await cluster.migrateSlot(slot, masters[0], 100);
    ok(moved >= 3, `the market's keys moved (${moved})`);
    assertEquals(await cluster.masterOf(slot), masters[0]);
    const after = await count(market);
    await waitFor(
      async () => (await count(market)) > after + 50,
      30_000,
      "trades on the new master",
    );
    // The writes did meet the migration: the old master answered them with redirections.
    const stats = await from.client.info("errorstats");
    const redirected = [...stats.matchAll(/errorstat_(ASK|TRYAGAIN|MOVED):count=(\d+)/g)]
      .map((m) => `${m[1]}=${m[2]}`);
    ok(redirected.length > 0, `no redirection seen: ${stats}`);
    const failovers = stream.lines.filter((l) => l.includes('"to":"failover"')).length;
    console.log(
      `cluster slot migration: ${moved} keys moved, redirections ${redirected.join(" ")}, ` +
        `${failovers} failovers of the core`,
    );
  });
});
