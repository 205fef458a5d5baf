/**
 * Trade flags (Bybit block / RPI trades) through the writer and the apply script on a real
 * redis-server: a flagged trade's stream entry, the market's `last` hash and its `P:trades`
 * message carry its flags; an unflagged trade's carry none; `last` loses `flags` when its newest
 * trade has none; the consolidated keys never carry them.
 */

import assert from "node:assert/strict";
import { TradeWriter } from "../../lib/redis/writer.ts";
import { btcLastKey, LEGACY_KEYS, marketKeys, tradesChannel } from "../../lib/redis/keys.ts";
import type { Trade, TradeFlag } from "../../lib/trade.ts";
import { dump, makeTrade, Subscriber, withRedis } from "./_helpers.ts";

const M = "bybit:BTC-USDT";
const K = marketKeys("btcfeed", M);
const all = () => true;

/** Trade `n` of M, with `flags` when given. */
function trade(n: number, flags?: TradeFlag[]): Trade {
  return makeTrade(M, n, flags ? { flags } : {});
}

/** The fields a stream entry of `t` must hold, in the order the script writes them. */
function entryFields(t: Trade): string[] {
  const f = ["price", t.price, "size", t.size, "side", t.side, "trade_id", t.tradeId];
  f.push("ts", String(t.ts), "received_at", String(t.receivedAt));
  return t.flags ? [...f, "flags", t.flags.join(",")] : f;
}

Deno.test("a flagged trade's stream entry, last and P:trades message carry its flags; an unflagged one's none", async () => {
  await withRedis(async (redis, server) => {
    const w = new TradeWriter(redis, { legacyKeys: true });
    const sub = await Subscriber.open(server, [tradesChannel("btcfeed"), LEGACY_KEYS.channel]);
    const trades = [
      trade(1),
      trade(2, ["block"]),
      trade(3, ["rpi"]),
      trade(4, ["block", "rpi"]),
      trade(5),
      trade(6, ["block"]),
    ];
    try {
      await w.apply(trades, all);
      await w.apply([trade(7, ["rpi"])], all, { late: true });
      await sub.flush();
      const messages = sub.on(tradesChannel("btcfeed"));
      assert.deepEqual(messages.map((m) => JSON.parse(m)), [
        ...trades,
        { ...trade(7, ["rpi"]), late: true },
      ]);
      assert.deepEqual(messages.map((m) => m.includes("flags")), [
        false,
        true,
        true,
        true,
        false,
        true,
        true,
      ]);
      const legacy = sub.on(LEGACY_KEYS.channel);
      assert.equal(legacy.length, 6);
      assert.ok(legacy.every((m) => !m.includes("flags")), "btc_price carries no flags");
    } finally {
      sub.close();
    }
    const all7 = [...trades, trade(7, ["rpi"])];
    assert.deepEqual(
      await redis.xrange(K.trades, "-", "+"),
      all7.map((t) => [t.id, entryFields(t)]),
    );
    assert.equal((await redis.hgetall(K.last)).flags, "rpi");
    const btc = await redis.hgetall(btcLastKey("btcfeed"));
    assert.equal(btc.trade_id, "7");
    assert.equal("flags" in btc, false, "P:btc:last carries no flags");
  });
});

Deno.test("last mirrors its newest applied trade: flags set, replaced, deleted when it has none, untouched by duplicates", async () => {
  await withRedis(async (redis) => {
    const w = new TradeWriter(redis);
    const lastFlags = async () => (await redis.hgetall(K.last)).flags;
    await w.apply([trade(1, ["block", "rpi"])], all);
    assert.equal(await lastFlags(), "block,rpi");
    await w.apply([trade(2, ["rpi"])], all);
    assert.equal(await lastFlags(), "rpi", "replaced");
    await w.apply([trade(3)], all);
    assert.equal(await lastFlags(), undefined, "the next trade is unflagged: flags deleted");
    await w.apply([trade(4, ["block"]), trade(5)], all);
    assert.equal(await lastFlags(), undefined, "only the batch's newest counts");
    await w.apply([trade(6), trade(7, ["block"])], all);
    assert.equal(await lastFlags(), "block");
    const before = await dump(redis);
    const again = await w.apply([trade(5), trade(6), trade(7, ["block"])], all);
    assert.equal(again.duplicates, 3);
    await w.apply([trade(7)], all);
    assert.deepEqual(await dump(redis), before, "duplicates change nothing, flags included");
    const entry = await redis.xrange(K.trades, trade(4).id, trade(4).id);
    assert.deepEqual(entry, [[trade(4).id, entryFields(trade(4, ["block"]))]]);
  });
});
