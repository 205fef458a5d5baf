import assert from "node:assert/strict";
import { marketKeys } from "../../lib/redis/keys.ts";
import { FencedError, TradeWriter } from "../../lib/redis/writer.ts";
import { dump, makeTrades, withRedis } from "./_helpers.ts";

const A = "binance:BTC-USDT";
const B = "coinbase:BTC-USD";
const all = () => true;

Deno.test("a write below the market's fence is refused with FencedError and writes nothing; a higher epoch raises the fence", async () => {
  await withRedis(async (redis) => {
    let epoch = 2;
    const writer = new TradeWriter(redis, {}, () => epoch);
    assert.equal((await writer.apply(makeTrades(A, 1, 5), all)).applied, 5);
    assert.equal(await redis.get(marketKeys("btcfeed", A).fence), "2");
    const before = await dump(redis);
    epoch = 1;
    const stale = makeTrades(A, 6, 5).concat(makeTrades(B, 1, 3));
    await assert.rejects(writer.apply(stale, all), FencedError);
    // Market B had no fence yet: epoch 1 raised it and wrote B; market A wrote nothing.
    const after = await dump(redis);
    for (const [key, value] of Object.entries(before)) {
      if (!key.includes(B) && !key.startsWith("btcfeed:btc:")) {
        assert.deepEqual(after[key], value, key);
      }
    }
    assert.equal(await redis.xlen(marketKeys("btcfeed", A).trades), 5);
    epoch = 3;
    assert.equal((await writer.apply(makeTrades(A, 6, 5), all)).applied, 5);
    assert.equal(await redis.get(marketKeys("btcfeed", A).fence), "3");
    epoch = 2;
    await assert.rejects(writer.apply(makeTrades(A, 11, 1), all), /BTCFEED_FENCED epoch 2/);
  });
});

Deno.test("without an epoch (a single feeder) no fence is read or written", async () => {
  await withRedis(async (redis) => {
    await redis.set(marketKeys("btcfeed", A).fence, "9");
    const writer = new TradeWriter(redis);
    assert.equal((await writer.apply(makeTrades(A, 1, 3), all)).applied, 3);
    assert.equal(await redis.get(marketKeys("btcfeed", A).fence), "9");
    assert.equal(await redis.exists(marketKeys("btcfeed", B).fence), 0);
  });
});
