/**
 * The consolidated script and its place in the write path, on a real redis-server: never back in
 * trade time, idempotent, late trades flagged on `P:trades` and absent from `btc_price`, and
 * nothing recorded that the market's script did not write.
 */

import assert from "node:assert/strict";
import { encodeTradeArg } from "../../lib/redis/apply_script.ts";
import { BTC_SCRIPT } from "../../lib/redis/btc_script.ts";
import { btcLastKey, LEGACY_KEYS, marketKeys, tradesChannel } from "../../lib/redis/keys.ts";
import { TradeWriter } from "../../lib/redis/writer.ts";
import { dump, makeTrade, makeTrades, Subscriber, withRedis } from "./_helpers.ts";

const A = "binance:BTC-USDT";
const B = "kraken:BTC-USD";
const BTC = btcLastKey("btcfeed");
const only = (m: string) => (market: string) => market === m;

Deno.test("a slower market's live trades never move P:btc:last or the legacy keys back in trade time", async () => {
  await withRedis(async (redis, server) => {
    const w = new TradeWriter(redis, { legacyKeys: true });
    await w.apply(makeTrades(A, 100, 3), only(A)); // ts of trade 102
    const sub = await Subscriber.open(server, [LEGACY_KEYS.channel]);
    try {
      const before = await dump(redis);
      // B becomes the consolidated market, but its trades are older than A's newest.
      const r = await w.apply(makeTrades(B, 10, 5), only(B));
      assert.equal(r.applied, 5, "written to their own market");
      const after = await dump(redis);
      for (const k of [BTC, LEGACY_KEYS.price, LEGACY_KEYS.updateTime, LEGACY_KEYS.history]) {
        assert.deepEqual(after[k], before[k], k);
      }
      // Its first trade newer than A's newest moves them forward, and only that one is published.
      const newer = makeTrade(B, 200);
      await w.apply([newer], only(B));
      assert.equal(await redis.hget(BTC, "id"), newer.id);
      assert.equal(await redis.get(LEGACY_KEYS.price), newer.price);
      await sub.flush();
      assert.equal(sub.on(LEGACY_KEYS.channel).length, 1);
    } finally {
      sub.close();
    }
  });
});

Deno.test("late trades are flagged on P:trades, never on btc_price, and still move P:btc:last forward", async () => {
  await withRedis(async (redis, server) => {
    const w = new TradeWriter(redis, { legacyKeys: true });
    const sub = await Subscriber.open(server, [tradesChannel("btcfeed"), LEGACY_KEYS.channel]);
    try {
      await w.apply(makeTrades(A, 1, 2), only(A));
      await w.apply(makeTrades(A, 3, 2), only(A), { late: true });
      await w.apply([{ ...makeTrade(A, 5), late: true }, makeTrade(A, 6)], only(A));
      await sub.flush();
      const lateness = sub.on(tradesChannel("btcfeed")).map((m) => JSON.parse(m).late ?? false);
      assert.deepEqual(lateness, [false, false, true, true, true, false]);
      assert.ok(!sub.on(tradesChannel("btcfeed"))[0].includes("late"), "live: no late field");
      const legacy = sub.on(LEGACY_KEYS.channel).map((m) => JSON.parse(m).volume);
      const sizeOf = (n: number) => Number(makeTrade(A, n).size);
      assert.deepEqual(legacy, [1, 2, 6].map(sizeOf), "only live trades on btc_price");
      assert.equal(await redis.hget(BTC, "trade_id"), "6");
      assert.equal(await redis.llen(LEGACY_KEYS.history), 6, "history takes late ones too");
    } finally {
      sub.close();
    }
  });
});

Deno.test("the consolidated script is idempotent: re-applying a batch changes nothing and publishes nothing", async () => {
  await withRedis(async (redis, server) => {
    const trades = makeTrades(A, 1, 20);
    const keys = [BTC, LEGACY_KEYS.price, LEGACY_KEYS.updateTime, LEGACY_KEYS.history];
    const args = [A, "1", "0", LEGACY_KEYS.channel, ...trades.map(encodeTradeArg)];
    assert.deepEqual(await redis.eval(BTC_SCRIPT, 4, ...keys, ...args), [20, 20]);
    const once = await dump(redis);
    const sub = await Subscriber.open(server, [LEGACY_KEYS.channel]);
    try {
      assert.deepEqual(await redis.eval(BTC_SCRIPT, 4, ...keys, ...args), [0, 0]);
      assert.deepEqual(await dump(redis), once);
      await sub.flush();
      assert.equal(sub.on(LEGACY_KEYS.channel).length, 0);
    } finally {
      sub.close();
    }
  });
});

Deno.test("with its guard, the consolidated script records no trade the market's stream lacks (an out-of-order one)", async () => {
  await withRedis(async (redis) => {
    const w = new TradeWriter(redis);
    await w.apply(makeTrades(B, 1, 1), only(B)); // P:btc:last: B's trade 1
    await w.apply([makeTrade(A, 5), makeTrade(A, 9)], () => false); // A's stream, not consolidated
    // Trade 7 of A is missing from its stream and older than its newest: out-of-order. It is
    // newer than what P:btc:last holds, yet it is not in the primary, so it is not recorded.
    const r = await w.apply([makeTrade(A, 7)], only(A));
    assert.deepEqual(r.outOfOrder.map((t) => t.tradeId), ["7"]);
    assert.equal(await redis.hget(BTC, "market"), B);
  });
});

Deno.test("the same trade time from another market does not replace P:btc:last; from the same market a greater ID does", async () => {
  await withRedis(async (redis) => {
    const w = new TradeWriter(redis);
    const ts = makeTrade(A, 10).ts;
    await w.apply([makeTrade(A, 10)], only(A));
    await w.apply([makeTrade(B, 10, { ts })], only(B));
    assert.equal(await redis.hget(BTC, "market"), A);
    await w.apply([makeTrade(A, 11, { ts })], only(A));
    assert.equal(await redis.hget(BTC, "trade_id"), "11");
    assert.equal(await redis.xlen(marketKeys("btcfeed", B).trades), 1);
  });
});

Deno.test("without legacy keys P:btc:last takes a batch's newest trade, and nothing from a batch that is older", async () => {
  await withRedis(async (redis) => {
    const w = new TradeWriter(redis);
    await w.apply(makeTrades(A, 100, 3), only(A));
    await w.apply(makeTrades(B, 10, 5), only(B)); // all older than A's newest
    assert.equal(await redis.hget(BTC, "id"), makeTrade(A, 102).id);
    await w.apply(makeTrades(B, 95, 20), only(B)); // older ones first, then newer ones
    assert.equal(await redis.hget(BTC, "id"), makeTrade(B, 114).id);
    await w.apply(makeTrades(B, 95, 20), only(B)); // again: a no-op
    assert.equal(await redis.hget(BTC, "id"), makeTrade(B, 114).id);
  });
});
