/**
 * The write path on a real Redis Cluster (three masters, a replica each): per-slot pipelines,
 * the consolidated call in P:btc:last's own slot, with the same guarantees as standalone
 * (refused chunks and out-of-order trades never reach P:btc:last, re-applying changes nothing,
 * late trades flagged), WAIT on every master, and the write probe.
 */

import assert from "node:assert/strict";
import type { Redis } from "ioredis";
import { startCluster } from "../support/cluster.ts";
import { createClient } from "../../lib/redis/client.ts";
import { btcLastKey, marketKeys, tradesChannel } from "../../lib/redis/keys.ts";
import { TradeWriter } from "../../lib/redis/writer.ts";
import { WriteProbe } from "../../lib/redis/write_probe.ts";
import { confirmReplicas } from "../../lib/failover/replicas.ts";
import { dump, makeTrade, makeTrades, Subscriber } from "./_helpers.ts";
import { waitFor } from "../support/cli.ts";

const A = "binance:BTC-USDT";
const B = "kraken:BTC-USD";
const BTC = btcLastKey("btcfeed");
const only = (m: string) => (market: string) => market === m;

Deno.test("on a cluster the writer keeps every standalone guarantee, and WAIT and the probe work", async () => {
  const cluster = await startCluster();
  const redis = createClient(cluster.url);
  const sub = await Subscriber.open(cluster.nodes[5].server, [tradesChannel("btcfeed")]);
  try {
    const w = new TradeWriter(redis, { chunkSize: 7 });
    assert.throws(() => new TradeWriter(redis, { legacyKeys: true }), /legacyKeys/);
    const a = makeTrades(A, 1, 40);
    const b = makeTrades(B, 1, 30);
    const mixed = [...a, ...b].sort((x, y) => x.ts - y.ts);
    const r = await w.apply(mixed, only(A));
    assert.deepEqual(r, { applied: 70, duplicates: 0, stale: 0, outOfOrder: [], rejected: [] });
    assert.equal(await redis.hget(BTC, "id"), a[39].id);
    const everything = async () => {
      const all: Record<string, unknown> = {};
      for (const n of cluster.nodes) {
        const role = await n.client.call("ROLE") as unknown[];
        if (role[0] === "master") Object.assign(all, await dump(n.client as Redis));
      }
      return all;
    };
    const once = await everything();
    assert.ok(Object.keys(once).length >= 7, Object.keys(once).join(" "));
    assert.equal((await w.apply(mixed, only(A))).duplicates, 70);
    assert.deepEqual(await everything(), once, "re-apply: no change");
    assert.equal(await redis.xlen(marketKeys("btcfeed", B).trades), 30);

    // An out-of-order trade newer than P:btc:last (held by B now) is not recorded.
    await w.apply([makeTrade(B, 100)], only(B));
    await w.apply([makeTrade(A, 200), makeTrade(A, 300)], () => false);
    const ooo = await w.apply([makeTrade(A, 250)], only(A));
    assert.deepEqual(ooo.outOfOrder.map((t) => t.tradeId), ["250"]);
    assert.equal(await redis.hget(BTC, "market"), B);
    // A refused chunk (a market key of the wrong type) never reaches P:btc:last.
    await redis.set(marketKeys("btcfeed", A).last, "oops");
    const refused = await w.apply([makeTrade(A, 400)], only(A));
    assert.equal(refused.rejected.length, 1);
    assert.equal(await redis.hget(BTC, "market"), B);
    // Late trades: flagged on P:trades (published cluster-wide), P:btc:last forward only.
    await w.apply([makeTrade(B, 500)], only(B), { late: true });
    assert.equal(await redis.hget(BTC, "trade_id"), "500");
    // Published on the slot's master, broadcast over the cluster bus to the subscriber's node.
    const late = () => sub.on(tradesChannel("btcfeed")).filter((m) => m.includes('"late":true'));
    await waitFor(() => late().length === 1, 5_000, "the late message");
    assert.match(late()[0], /"tradeId":"500"/);
    assert.equal(sub.on(tradesChannel("btcfeed")).length, 70 + 1 + 2 + 1, "every applied trade");

    await confirmReplicas(redis, 1, 2_000); // each master has its replica
    await assert.rejects(confirmReplicas(redis, 2, 300), /WAIT confirmed 1 of 2/);
    const ms = await new WriteProbe(redis, { prefix: "btcfeed", legacyKeys: false }).within(2_000);
    assert.ok(ms >= 0);
  } finally {
    sub.close();
    redis.disconnect();
    await cluster.stop();
  }
});
