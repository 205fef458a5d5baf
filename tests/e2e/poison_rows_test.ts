/**
 * Poison rows never block: a key of the wrong type on one of two markets (someone SET its `last`
 * as a string) keeps that market's trades out, never half-written, as dead letters, while the
 * other market lands in full, live and in replay; `sync --dead-letters --retry` lands them, in
 * order and once, after the operator deletes the key. Real CLI, real redis-server.
 */

import { deepStrictEqual as assertEquals, match, ok } from "node:assert/strict";
import type { Redis } from "ioredis";
import { runCli, waitFor } from "../support/cli.ts";
import { startRedis } from "../support/redis_server.ts";
import { assertClean } from "../support/rig.ts";
import { verifyMarket } from "../support/verify.ts";
import { assertFullTape, tradeCount, withEnv } from "./_harness.ts";
import { marketKeys } from "../../lib/redis/keys.ts";
import { Journal as Outbox } from "../../lib/store/journal.ts";
import { entryIdFor, type Trade } from "../../lib/trade.ts";
import { Redis as RedisClient } from "ioredis";

const TRADES = 1_500;

/** Every key of `market` on the primary, with its type. */
async function marketKeyTypes(redis: Redis, market: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const key of (await redis.keys(`*{${market}}*`)).sort()) out[key] = await redis.type(key);
  return out;
}

function json(r: { code: number; stdout: string; stderr: string }) {
  assertEquals(r.code, 0, r.stdout + r.stderr);
  return JSON.parse(r.stdout);
}

Deno.test("live: a WRONGTYPE key on one market dead-letters its trades unwritten, the other lands; --retry lands them once after the fix", async () => {
  await withEnv([
    { exchange: "binance", trades: TRADES, ratePerSec: 3_000, startMicros: Date.now() * 1000 },
    { exchange: "kraken", trades: TRADES, ratePerSec: 3_000, startMicros: Date.now() * 1000 },
  ], async (env) => {
    const [good, bad] = env.fakes;
    const badMarket = bad.tape[0].market;
    const badKeys = marketKeys("btcfeed", badMarket);
    await env.client.set(badKeys.last, "oops");
    const shared = ["--primary", env.redis.url, "--data-dir", env.dataDir];

    const stream = env.startStream();
    await waitFor(
      async () => (await tradeCount(env.client, good.tape[0].market)) >= TRADES,
      30_000,
      "the healthy market's trades",
    );
    await waitFor(() => env.status()?.outbox.deadLetters === TRADES, 10_000, "dead letters");
    await assertFullTape(env.client, good);
    assertEquals(
      await marketKeyTypes(env.client, badMarket),
      { [badKeys.last]: "string" },
      "no stream entry, no candle: nothing of a poisoned trade was written",
    );
    assertEquals(await env.client.get(badKeys.last), "oops");
    assertEquals(env.status()!.outbox.depth, 0, "the outbox is not blocked");
    assertEquals(env.status()!.mode, "primary");
    const refusedLines = stream.lines.filter((l) => l.includes("refused trades for their content"));
    assertEquals(refusedLines.length, 1, "one log line, not one per batch");

    const health = await runCli(["health", "--json", ...shared]);
    assertEquals(health.code, 1, health.stdout);
    const check = JSON.parse(health.stdout).checks["outbox:deadLetters"][0];
    assertEquals([check.status, check.observedValue], ["warn", TRADES]);
    assertEquals((await stream.stop()).code, 0);

    const listed = json(await runCli(["sync", "--dead-letters", "--json", ...shared]));
    assertEquals(listed.count, TRADES);
    assertEquals(
      listed.deadLetters.map((d: { tradeId: string }) => d.tradeId),
      bad.tape.map((t) => t.tradeId),
    );
    for (const d of listed.deadLetters.slice(0, 3)) {
      assertEquals(d.market, badMarket);
      match(d.reason, /^WRONGTYPE .*:last is a string, not a hash$/);
      ok(!Number.isNaN(Date.parse(d.at)) && /^\d+-\d+$/.test(d.entryId), JSON.stringify(d));
    }
    const plain = await runCli(["sync", "--dead-letters", ...shared]);
    const lines = plain.stdout.trimEnd().split("\n");
    assertEquals(lines.length, TRADES);
    assertEquals(lines[0].split("\t").slice(0, 3), [
      badMarket,
      listed.deadLetters[0].entryId,
      bad.tape[0].tradeId,
    ]);

    // Retried before the fix: rejected again, still nothing written.
    const early = json(await runCli(["sync", "--dead-letters", "--retry", "--json", ...shared]));
    assertEquals(early.retry, { retried: TRADES, wentThrough: 0, rejectedAgain: TRADES });
    assertEquals(early.deadLetters, TRADES);
    assertEquals(await marketKeyTypes(env.client, badMarket), { [badKeys.last]: "string" });

    await env.client.del(badKeys.last);
    const fixed = json(await runCli(["sync", "--dead-letters", "--retry", "--json", ...shared]));
    assertEquals(fixed.retry, { retried: TRADES, wentThrough: TRADES, rejectedAgain: 0 });
    assertEquals([fixed.replayed, fixed.deadLetters, fixed.remaining], [TRADES, 0, 0]);
    await assertFullTape(env.client, bad);
    await assertFullTape(env.client, good);

    const again = await runCli(["sync", "--dead-letters", "--retry", ...shared]);
    assertEquals([again.code, again.stdout.trim()], [0, "no dead letters: nothing to retry"]);
    await assertFullTape(env.client, bad);
  });
});

function trades(market: string, n: number, offset: number): Trade[] {
  const start = 1_785_312_345_000;
  return Array.from({ length: n }, (_, i) => {
    const ts = start + Math.floor(i / 7);
    const tradeId = String(offset + i);
    return {
      market,
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

Deno.test("replay: one poisoned market is dead-lettered and the other replays to completion; --retry lands it after the fix", async () => {
  const redis = await startRedis();
  const dataDir = await Deno.makeTempDir({ prefix: "btcfeed-poison-" });
  const client = new RedisClient(redis.url);
  const N = 6_000;
  try {
    const a = trades("binance:BTC-USDT", N, 7_000_000);
    const b = trades("kraken:BTC-USD", N, 9_000_000);
    const outbox = Outbox.open(dataDir);
    for (let i = 0; i < N; i += 1_000) {
      ok(outbox.append([...a.slice(i, i + 1_000), ...b.slice(i, i + 1_000)]).ok);
    }
    outbox.close();
    const bKeys = marketKeys("btcfeed", b[0].market);
    await client.set(bKeys.candles, "not a hash");
    const shared = ["--primary", redis.url, "--data-dir", dataDir];

    const first = json(await runCli(["sync", "--json", ...shared]));
    assertEquals(
      [first.replayed, first.deadLettered, first.deadLetters, first.remaining],
      [N, N, N, 0],
    );
    assertClean(await verifyMarket(client, "btcfeed", a));
    assertEquals(await marketKeyTypes(client, b[0].market), { [bKeys.candles]: "string" });

    await client.del(bKeys.candles);
    const retry = json(await runCli(["sync", "--dead-letters", "--retry", "--json", ...shared]));
    assertEquals(retry.retry, { retried: N, wentThrough: N, rejectedAgain: 0 });
    assertClean(await verifyMarket(client, "btcfeed", b));
    assertClean(await verifyMarket(client, "btcfeed", a));
  } finally {
    client.disconnect();
    await redis.stop();
    await Deno.remove(dataDir, { recursive: true }).catch(() => {});
  }
});

Deno.test("--retry without --dead-letters is a usage error naming the flag", async () => {
  const r = await runCli(["sync", "--retry"]);
  assertEquals(r.code, 2);
  match(r.stderr, /--retry needs --dead-letters/);
});
