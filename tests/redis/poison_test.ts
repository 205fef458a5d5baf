/**
 * Key collisions never half-write and never fail the pipeline: each script checks the type of
 * every key it will write before writing anything. A market key of the wrong type: the writer
 * returns the refusal as a value while the other markets of the same pipeline are applied. A
 * consolidated key of the wrong type: the trades land in their market, the consolidated script
 * writes none of its keys and publishes nothing, and the refusal is reported.
 */

import assert from "node:assert/strict";
import type { Redis } from "ioredis";
import { btcLastKey, LEGACY_KEYS, marketKeys, tradesChannel } from "../../lib/redis/keys.ts";
import { TradeWriter } from "../../lib/redis/writer.ts";
import { dump, makeTrades, Subscriber, withRedis } from "./_helpers.ts";

const GOOD = "binance:BTC-USDT";
const BAD = "kraken:BTC-USD";
const G = marketKeys("btcfeed", GOOD);
const B = marketKeys("btcfeed", BAD);
/** Only the poisoned market feeds the consolidated and legacy keys, so they are its keys. */
const badConsolidated = (market: string) => market === BAD;

/** Every key the poisoned market may write, with a value of the wrong type for it. */
const COLLISIONS: [key: string, plant: (r: Redis, key: string) => Promise<unknown>][] = [
  [B.trades, (r, k) => r.set(k, "not a stream")],
  [B.last, (r, k) => r.set(k, "117000.5")],
  [B.candles, (r, k) => r.rpush(k, "x")],
];

/** Every consolidated key, with a value of the wrong type for it. */
const CONSOLIDATED_COLLISIONS: typeof COLLISIONS = [
  [btcLastKey("btcfeed"), (r, k) => r.set(k, "117000.5")],
  [LEGACY_KEYS.price, (r, k) => r.hset(k, "price", "1")],
  [LEGACY_KEYS.updateTime, (r, k) => r.rpush(k, "1")],
  [LEGACY_KEYS.history, (r, k) => r.set(k, "[]")],
];

/** The database without the healthy market's keys. */
async function poisonedSide(redis: Redis): Promise<Record<string, unknown>> {
  const all = await dump(redis);
  for (const key of [G.trades, G.last, G.candles]) delete all[key];
  return all;
}

for (const [key, plant] of COLLISIONS) {
  Deno.test(`a ${key} of the wrong type rejects that market's trades, writes none of their keys, and the other market lands`, async () => {
    await withRedis(async (redis, server) => {
      const w = new TradeWriter(redis, { legacyKeys: true, chunkSize: 4 });
      // The poisoned market already has trades, so a half-write would show in every key.
      await w.apply(makeTrades(BAD, 1, 5), badConsolidated);
      await redis.del(key);
      await plant(redis, key);
      const before = await poisonedSide(redis);
      const sub = await Subscriber.open(server, [tradesChannel("btcfeed"), LEGACY_KEYS.channel]);
      try {
        const good = makeTrades(GOOD, 1, 30);
        const bad = makeTrades(BAD, 6, 10);
        const mixed = good.flatMap((t, i) => i < bad.length ? [t, bad[i]] : [t]);
        const r = await w.apply(mixed, badConsolidated);

        assert.equal(r.applied, 30);
        assert.deepEqual(
          r.rejected.flatMap((c) => c.trades),
          bad,
          "every poisoned trade, in order",
        );
        for (const c of r.rejected) {
          assert.equal(c.market, BAD);
          assert.match(c.reason, new RegExp(`^WRONGTYPE ${key.replace(/[{}]/g, "\\$&")} is a `));
        }
        assert.deepEqual(await poisonedSide(redis), before, "no key of the poisoned market moved");
        const landed = (await redis.xrange(G.trades, "-", "+")).map(([id]) => id);
        assert.deepEqual(landed, good.map((t) => t.id), "the other market, in order");
        assert.equal((await redis.hgetall(G.last)).trade_id, "30");
        await sub.flush();
        const published = sub.messages.map((m) => JSON.parse(m.message).market ?? "legacy");
        assert.deepEqual(published, good.map(() => GOOD), "nothing published for rejected trades");
      } finally {
        sub.close();
      }
    });
  });
}

/** The consolidated keys, as they are. */
async function consolidatedSide(redis: Redis): Promise<Record<string, unknown>> {
  const all = await dump(redis);
  const keys = [btcLastKey("btcfeed"), LEGACY_KEYS.price, LEGACY_KEYS.updateTime];
  keys.push(LEGACY_KEYS.history);
  return Object.fromEntries(keys.map((k) => [k, all[k]]));
}

for (const [key, plant] of CONSOLIDATED_COLLISIONS) {
  Deno.test(`a ${key} of the wrong type writes no consolidated key and publishes nothing legacy, and the trades land`, async () => {
    await withRedis(async (redis, server) => {
      const w = new TradeWriter(redis, { legacyKeys: true, chunkSize: 4 });
      await w.apply(makeTrades(BAD, 1, 5), badConsolidated);
      await redis.del(key);
      await plant(redis, key);
      const before = await consolidatedSide(redis);
      const sub = await Subscriber.open(server, [tradesChannel("btcfeed"), LEGACY_KEYS.channel]);
      try {
        const bad = makeTrades(BAD, 6, 10);
        const r = await w.apply(bad, badConsolidated);
        assert.deepEqual([r.applied, r.rejected], [10, []]);
        assert.match(r.consolidatedRefusal ?? "", new RegExp(`^WRONGTYPE ${key} is a `));
        assert.deepEqual(await consolidatedSide(redis), before, "no consolidated key moved");
        assert.equal((await redis.hgetall(B.last)).trade_id, "15", "the market's own keys moved");
        await sub.flush();
        assert.equal(sub.on(LEGACY_KEYS.channel).length, 0);
        assert.equal(sub.on(tradesChannel("btcfeed")).length, 10);
      } finally {
        sub.close();
      }
    });
  });
}

Deno.test("a WRONGTYPE last no longer half-writes: the stream entry is not appended either", async () => {
  await withRedis(async (redis) => {
    const w = new TradeWriter(redis);
    await w.apply(makeTrades(BAD, 1, 3), badConsolidated);
    await redis.set(B.last, "oops");
    const r = await w.apply(makeTrades(BAD, 4, 1), badConsolidated);
    assert.equal(r.rejected.length, 1);
    assert.equal(await redis.xlen(B.trades), 3, "no stream entry without its last");
    assert.equal(await redis.get(B.last), "oops");
    // Once the operator deletes the key, the same trade applies everywhere.
    await redis.del(B.last);
    const again = await w.apply(makeTrades(BAD, 4, 1), badConsolidated);
    assert.deepEqual([again.applied, again.rejected], [1, []]);
    assert.equal((await redis.hgetall(B.last)).trade_id, "4");
  });
});

Deno.test("keys a call does not write are not checked: a foreign P:btc:last blocks no unconsolidated market", async () => {
  await withRedis(async (redis) => {
    await redis.set(btcLastKey("btcfeed"), "foreign");
    await redis.set(LEGACY_KEYS.price, "foreign");
    const r = await new TradeWriter(redis, { legacyKeys: true }).apply(
      makeTrades(GOOD, 1, 5),
      () => false,
    );
    assert.deepEqual([r.applied, r.rejected], [5, []]);
  });
});
