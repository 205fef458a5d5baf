import assert from "node:assert/strict";
import { APPLY_SCRIPT, APPLY_SCRIPT_SHA, encodeTradeArg } from "../../lib/redis/apply_script.ts";
import { createRedis } from "../../lib/redis/client.ts";
import { btcLastKey, LEGACY_KEYS, marketKeys, tradesChannel } from "../../lib/redis/keys.ts";
import { InvalidTradeError, TradeWriteError, TradeWriter } from "../../lib/redis/writer.ts";
import type { Trade } from "../../lib/trade.ts";
import { waitFor } from "../support/cli.ts";
import {
  connect,
  dump,
  makeTrade,
  makeTrades,
  referenceCandles,
  Subscriber,
  withRedis,
} from "./_helpers.ts";

const M = "binance:BTC-USDT";
const K = marketKeys("btcfeed", M);
const all = () => true;
const none = () => false;

function lastFields(t: Trade): Record<string, string> {
  return {
    price: t.price,
    size: t.size,
    side: t.side,
    trade_id: t.tradeId,
    ts: String(t.ts),
    received_at: String(t.receivedAt),
    market: t.market,
  };
}

Deno.test("applying trades writes the stream, last and candles exactly", async () => {
  await withRedis(async (redis) => {
    const trades = makeTrades(M, 1, 250);
    const w = new TradeWriter(redis);
    const r = await w.apply(trades, all);
    assert.deepEqual(r, { applied: 250, duplicates: 0, stale: 0, outOfOrder: [], rejected: [] });

    const entries = await redis.xrange(K.trades, "-", "+");
    assert.deepEqual(
      entries,
      trades.map((t) => [t.id, [
        "price",
        t.price,
        "size",
        t.size,
        "side",
        t.side,
        "trade_id",
        t.tradeId,
        "ts",
        String(t.ts),
        "received_at",
        String(t.receivedAt),
      ]]),
    );
    const newest = trades[trades.length - 1];
    assert.deepEqual(await redis.hgetall(K.last), { ...lastFields(newest), id: newest.id });
    assert.deepEqual(await redis.hgetall(btcLastKey("btcfeed")), {
      ...lastFields(newest),
      id: newest.id,
    });
    assert.deepEqual(await redis.hgetall(K.candles), referenceCandles(trades));
  });
});

Deno.test("re-applying the same batch changes nothing anywhere, candles and channels included", async () => {
  await withRedis(async (redis, server) => {
    const w = new TradeWriter(redis, { legacyKeys: true });
    const trades = [...makeTrades(M, 1, 120), ...makeTrades("kraken:BTC-USD", 5, 80)];
    await w.apply(trades, all);
    const before = await dump(redis);
    const sub = await Subscriber.open(server, [tradesChannel("btcfeed"), LEGACY_KEYS.channel]);
    try {
      const r = await w.apply(trades, all);
      assert.deepEqual(r, { applied: 0, duplicates: 200, stale: 0, outOfOrder: [], rejected: [] });
      await sub.flush();
      assert.deepEqual(sub.messages, []);
    } finally {
      sub.close();
    }
    assert.deepEqual(await dump(redis), before);
  });
});

Deno.test("re-applying a random mix of old and new trades ends exactly as applying each once", async () => {
  await withRedis(async (redis) => {
    const w = new TradeWriter(redis, { legacyKeys: true, chunkSize: 7 });
    const trades = makeTrades(M, 1, 400);
    const once = await (async () => {
      await w.apply(trades, all);
      const d = await dump(redis);
      await redis.flushall();
      return d;
    })();
    let applied = 0;
    let seen = 0;
    while (seen < trades.length) {
      const next = Math.min(trades.length, seen + 1 + Math.floor(Math.random() * 60));
      // Some already applied trades (in order), then new ones.
      const from = Math.max(0, seen - Math.floor(Math.random() * 40));
      const r = await w.apply(trades.slice(from, next), all);
      assert.deepEqual(r.outOfOrder, []);
      assert.equal(r.duplicates, seen - from);
      applied += r.applied;
      seen = next;
    }
    assert.equal(applied, trades.length);
    assert.deepEqual(await dump(redis), once);
  });
});

Deno.test("a missing trade older than the newest is reported out-of-order and changes nothing", async () => {
  await withRedis(async (redis) => {
    const w = new TradeWriter(redis, { legacyKeys: true });
    const trades = makeTrades(M, 1, 50);
    const missing = trades.splice(20, 1)[0];
    await w.apply(trades, all);
    const before = await dump(redis);
    const r = await w.apply([missing, trades[3]], all);
    assert.deepEqual(r, {
      applied: 0,
      duplicates: 1,
      stale: 0,
      outOfOrder: [missing],
      rejected: [],
    });
    assert.deepEqual(await dump(redis), before);
  });
});

Deno.test("an out-of-order trade in a fresh stream is reported, never taken for trimmed (stale)", async () => {
  await withRedis(async (redis) => {
    const w = new TradeWriter(redis);
    const r = await w.apply([makeTrade(M, 10), makeTrade(M, 9)], all);
    assert.equal(r.applied, 1);
    assert.equal(r.stale, 0);
    assert.deepEqual(r.outOfOrder.map((t) => t.tradeId), ["9"]);
  });
});

Deno.test("last and the consolidated price never move backwards on replay", async () => {
  await withRedis(async (redis) => {
    const w = new TradeWriter(redis, { legacyKeys: true });
    const trades = makeTrades(M, 1, 30);
    await w.apply(trades, all);
    const newest = trades[29];
    await w.apply(trades.slice(0, 10), all);
    await w.apply([trades[5]], all);
    assert.equal(await redis.hget(K.last, "id"), newest.id);
    assert.equal(await redis.hget(btcLastKey("btcfeed"), "trade_id"), newest.tradeId);
    assert.equal(await redis.get(LEGACY_KEYS.price), newest.price);
  });
});

Deno.test("with the consolidated flag off, P:btc:last and the legacy keys stay untouched", async () => {
  await withRedis(async (redis) => {
    const w = new TradeWriter(redis, { legacyKeys: true });
    await w.apply(makeTrades(M, 1, 10), none);
    assert.equal(await redis.exists(btcLastKey("btcfeed")), 0);
    for (const k of [LEGACY_KEYS.price, LEGACY_KEYS.updateTime, LEGACY_KEYS.history]) {
      assert.equal(await redis.exists(k), 0, k);
    }
    assert.equal(await redis.xlen(K.trades), 10);

    const other = "coinbase:BTC-USD";
    await w.apply(makeTrades(other, 1, 3), (m) => m === other);
    assert.equal(await redis.hget(btcLastKey("btcfeed"), "market"), other);
    await w.apply(makeTrades(M, 11, 3), (m) => m === other);
    assert.equal(await redis.hget(btcLastKey("btcfeed"), "market"), other);
  });
});

Deno.test("legacy keys and both channels carry each applied trade", async () => {
  await withRedis(async (redis, server) => {
    const w = new TradeWriter(redis, { legacyKeys: true });
    const sub = await Subscriber.open(server, [tradesChannel("btcfeed"), LEGACY_KEYS.channel]);
    const trades = makeTrades(M, 1, 1005);
    trades[1004] = makeTrade(M, 1005, {
      price: "117250.10",
      size: "0.00120",
      ts: 1_700_009_000_456,
    });
    try {
      await w.apply(trades, all);
      await sub.flush();
      const live = sub.on(tradesChannel("btcfeed")).map((m) => JSON.parse(m));
      assert.deepEqual(live, trades.map((t) => ({ ...t })));
      const legacy = sub.on(LEGACY_KEYS.channel);
      assert.equal(legacy.length, 1005);
      assert.equal(legacy[1004], '{"price":117250.10,"timestamp":1700009000.456,"volume":0.00120}');
    } finally {
      sub.close();
    }
    assert.equal(await redis.get(LEGACY_KEYS.price), "117250.10");
    assert.equal(await redis.get(LEGACY_KEYS.updateTime), "1700009000");
    const history = await redis.lrange(LEGACY_KEYS.history, 0, -1);
    assert.equal(history.length, 1000);
    assert.equal(history[0], '{"price":117250.10,"timestamp":1700009000.456,"volume":0.00120}');
    const oldestKept = trades[5];
    assert.deepEqual(JSON.parse(history[999]), {
      price: Number(oldestKept.price),
      timestamp: oldestKept.ts / 1000,
      volume: Number(oldestKept.size),
    });
  });
});

Deno.test("trades trimmed away are reported stale on re-apply and change nothing", async () => {
  await withRedis(async (redis) => {
    const w = new TradeWriter(redis, { maxTrades: 20, legacyKeys: true });
    const trades = makeTrades(M, 1, 100);
    await w.apply(trades, all);
    const kept = await redis.xrange(K.trades, "-", "+");
    assert.ok(kept.length >= 20 && kept.length < 100, `kept ${kept.length}`);
    const before = await dump(redis);
    const r = await w.apply(trades, all);
    assert.deepEqual(r, {
      applied: 0,
      duplicates: kept.length,
      stale: 100 - kept.length,
      outOfOrder: [],
      rejected: [],
    });
    assert.deepEqual(await dump(redis), before);
  }, { args: ["--stream-node-max-entries", "10"] });
});

Deno.test("writes still work after SCRIPT FLUSH and FLUSHALL between batches", async () => {
  await withRedis(async (redis) => {
    const w = new TradeWriter(redis);
    assert.equal((await w.apply(makeTrades(M, 1, 10), all)).applied, 10);
    await redis.script("FLUSH");
    assert.equal((await w.apply(makeTrades(M, 11, 10), all)).applied, 10);
    await redis.flushall();
    await redis.script("FLUSH");
    assert.equal((await w.apply(makeTrades(M, 21, 10), all)).applied, 10);
    assert.equal(await redis.xlen(K.trades), 10);
  });
});

Deno.test("writes still work after the server restarts with an empty script cache", async () => {
  await withRedis(async (redis, server) => {
    await new TradeWriter(redis).apply(makeTrades(M, 1, 5), all);
    await server.restart();
    const fresh = await connect(server);
    try {
      assert.equal((await new TradeWriter(fresh).apply(makeTrades(M, 6, 5), all)).applied, 5);
    } finally {
      fresh.disconnect();
    }
  });
});

Deno.test("an invalid trade rejects the whole batch before anything is written", async () => {
  await withRedis(async (redis) => {
    const w = new TradeWriter(redis);
    const good = makeTrades(M, 1, 5);
    for (
      const bad of [
        { price: "1e5" },
        { price: "-1" },
        { size: "01.5" },
        { side: "BUY" as "buy" },
        { id: "5-" },
        { ts: 1.5 },
        { market: "bad market" },
      ]
    ) {
      await assert.rejects(w.apply([...good, { ...good[0], ...bad }], all), InvalidTradeError);
    }
    assert.equal(await redis.dbsize(), 0);
  });
});

Deno.test("the script itself rejects invalid input without writing anything", async () => {
  await withRedis(async (redis) => {
    const t = makeTrade(M, 1);
    const head = [K.trades, K.last, K.candles, K.fence, M, 100, 0, "c", 60, ""];
    const good = encodeTradeArg(t);
    const row = (over: Partial<Record<keyof Trade, string>>) =>
      encodeTradeArg({ ...t, ...over } as unknown as Trade);
    const badRows = [
      row({ price: "1." }),
      row({ price: ".5" }),
      row({ price: "1.2.3" }),
      row({ size: "00.5" }),
      row({ size: "-1" }),
      row({ side: "hold" }),
      row({ id: "0-0" }),
      row({ id: "01-1" }),
      row({ id: "1-18446744073709551616" }),
      row({ tradeId: "x" }),
      row({ ts: "1e12" }),
      row({ receivedAt: "1234567890123456" }),
      good + " extra",
      good.replace(" ", "  "),
      "",
    ];
    for (const bad of badRows) {
      await assert.rejects(
        redis.evalsha(APPLY_SCRIPT_SHA, 4, ...head, good, bad).catch(async (e) => {
          if (!/NOSCRIPT/.test(e.message)) throw e;
          return await redis.eval(APPLY_SCRIPT, 4, ...head, good, bad);
        }),
        /BTCFEED_INVALID trade at index 1/,
        bad,
      );
    }
    await assert.rejects(
      redis.eval(APPLY_SCRIPT, 4, ...head.slice(0, 5), 0, ...head.slice(6), good),
      /BTCFEED_INVALID maxTrades/,
    );
    await assert.rejects(
      redis.eval(APPLY_SCRIPT, 4, ...head.slice(0, 4), "Binance", ...head.slice(5), good),
      /BTCFEED_INVALID market/,
    );
    assert.equal(await redis.dbsize(), 0);
    // The same call with only the good row is accepted (the rejections above are about the rows).
    assert.deepEqual(await redis.eval(APPLY_SCRIPT, 4, ...head, good), [1, 0, 0]);
  });
});

Deno.test("a lost connection rejects with a TradeWriteError carrying the original cause", async () => {
  await withRedis(async (redis, server) => {
    const w = new TradeWriter(redis);
    await server.stop();
    const e = await w.apply(makeTrades(M, 1, 3), all).then(() => null, (e) => e);
    assert.ok(e instanceof TradeWriteError);
    assert.ok(e.cause instanceof Error);
  });
});

Deno.test("candles older than the retention are deleted, even across gaps", async () => {
  await withRedis(async (redis) => {
    const w = new TradeWriter(redis, { candleRetentionMinutes: 3 });
    const minute = (m: number, n: number) =>
      makeTrade(M, n, { ts: 1_700_000_040_000 + m * 60_000 + n });
    await w.apply([minute(0, 1), minute(1, 2), minute(2, 3)], all);
    assert.equal(await redis.hlen(K.candles), 3);
    await w.apply([minute(3, 4)], all);
    assert.deepEqual((await redis.hkeys(K.candles)).sort(), [
      "1700000100000",
      "1700000160000",
      "1700000220000",
    ]);
    await w.apply([minute(50, 5)], all);
    assert.deepEqual(await redis.hkeys(K.candles), ["1700003040000"]);
  });
});

Deno.test("one apply sends one script call per chunk of each market, the same trade twice counts once", async () => {
  await withRedis(async (redis) => {
    await redis.config("RESETSTAT");
    const w = new TradeWriter(redis, { chunkSize: 100 });
    const a = makeTrades(M, 1, 150);
    const b = makeTrades("kraken:BTC-USD", 1, 100);
    const mixed = [...a, ...b].sort((x, y) => x.ts - y.ts);
    mixed.push(a[100]); // a duplicate inside the batch, behind the newest
    const r = await w.apply(mixed, all);
    assert.deepEqual(r, { applied: 250, duplicates: 1, stale: 0, outOfOrder: [], rejected: [] });
    const stats = await redis.info("commandstats");
    // Three market calls, each followed by its consolidated call (every market is consolidated).
    assert.match(stats, /cmdstat_evalsha:calls=6,/);
    assert.match(stats, /cmdstat_script\|load:calls=2,/);
    assert.deepEqual((await redis.xrange(K.trades, "-", "+")).map((e) => e[0]), a.map((t) => t.id));
  });
});

Deno.test("a lazy client that never connected writes on the first apply", async () => {
  await withRedis(async (redis, server) => {
    const lazy = createRedis(server.url);
    try {
      assert.equal(lazy.status, "wait");
      assert.equal((await new TradeWriter(lazy).apply(makeTrades(M, 1, 3), all)).applied, 3);
    } finally {
      lazy.disconnect();
    }
    assert.equal(await redis.xlen(K.trades), 3);
  });
});

Deno.test("a client that ended (gave up reconnecting) is connected again by the next write", async () => {
  await withRedis(async (redis) => {
    const trades = makeTrades(M, 1, 5);
    redis.disconnect(); // status "end": ioredis itself rejects every command from here on
    await waitFor(() => redis.status === "end", 5_000, "the client to end");
    const r = await new TradeWriter(redis).apply(trades, all);
    assert.equal(r.applied, 5);
    assert.equal(await redis.xlen(K.trades), 5);
  });
});
