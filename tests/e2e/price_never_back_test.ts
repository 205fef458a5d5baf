/**
 * Old is never current, end to end through the real CLI: across a backfill, a replay after an
 * outage, a reconciliation and `btcfeed sync`, every write of `P:btc:last` and of the legacy
 * update time (seen exactly, with MONITOR) is at or after the one before in trade time; no
 * `btc_price` message is a late trade; late trades reach `P:trades` with `"late":true`.
 */

import { deepStrictEqual as assertEquals, ok } from "node:assert/strict";
import { type CliProcess, runCli, waitFor } from "../support/cli.ts";
import { freePort } from "../support/redis_server.ts";
import { NO_PRICE_FAULTS, priceFaults, PriceWatch } from "../support/price_watch.ts";
import { sleep } from "../support/rig.ts";
import { btcLastKey, LEGACY_KEYS } from "../../lib/redis/keys.ts";
import { type Env, sourceArgs, tradeCount, withEnv } from "./_harness.ts";
import { assertFullTape } from "./_harness.ts";

const ARGS = ["--legacy-keys", "--hold-down-ms", "300"];

async function allLanded(env: Env, trades: number): Promise<void> {
  for (const f of env.fakes) {
    await waitFor(
      async () => (await tradeCount(env.client, f.tape[0].market)) >= trades,
      60_000,
      `all ${trades} trades of ${f.tape[0].market}`,
    );
  }
  await waitFor(() => env.status()?.outbox.depth === 0, 30_000, "outbox drained");
  for (const f of env.fakes) await assertFullTape(env.client, f);
}

/** Waits for the watch to catch up, then asserts a clean run that saw `late` late trades at least. */
async function assertClean(watch: PriceWatch, minLate: number): Promise<void> {
  await sleep(300);
  const v = watch.verdict();
  assertEquals(priceFaults(v), NO_PRICE_FAULTS, JSON.stringify(v));
  ok(v.lateTrades >= minLate, `at least ${minLate} late trades on P:trades: ${JSON.stringify(v)}`);
  ok(v.btcLastWrites > 0 && v.legacyTimeWrites > 0 && v.legacyMessages > 0, JSON.stringify(v));
}

Deno.test("backfill and a slower market: trades older than P:btc:last never take it back, backfilled ones are late and never on btc_price", async () => {
  const startMicros = Date.now() * 1000;
  const start = 5_000_000;
  await withEnv([
    // Coinbase (first priority, trade times 10 s ahead of Binance's) drops its connection once
    // and skips ids, which are backfilled over REST. Once its tape is done it goes away, and
    // Binance becomes the consolidated market: all of its trades are older than P:btc:last.
    {
      exchange: "coinbase",
      trades: 3_000,
      ratePerSec: 1_000,
      dropAfter: 1_000,
      startTradeId: start,
      skipIds: [start + 2_000, start + 2_099],
      startMicros: startMicros + 10e6,
    },
    { exchange: "binance", trades: 8_000, ratePerSec: 1_000, startMicros },
  ], async (env) => {
    const watch = await PriceWatch.open(env.redis.url);
    try {
      env.startStream(ARGS);
      const [coinbase, binance] = env.fakes.map((f) => f.tape[0].market);
      await waitFor(async () => (await tradeCount(env.client, coinbase)) >= 3_000, 30_000);
      await waitFor(() => env.status()?.markets[coinbase]?.gapsBackfilled === 1, 5_000);
      await env.fakes[0].stop();
      await waitFor(() => env.status()?.consolidatedMarket === binance, 10_000, "binance");
      const before = await tradeCount(env.client, binance);
      await waitFor(async () => (await tradeCount(env.client, binance)) >= 8_000, 30_000);
      await allLanded(env, 3_000);
      ok(before < 8_000, "binance traded as the consolidated market");
      await assertClean(watch, 100);
      const v = watch.verdict();
      // Binance may hold it before Coinbase's first trade; once Coinbase's newer trades took it,
      // Binance's older ones never took it back.
      const fromCoinbase = v.btcLastMarkets.slice(v.btcLastMarkets.indexOf(coinbase));
      assertEquals(fromCoinbase, [coinbase], "binance's older trades never took it");
    } finally {
      watch.close();
    }
  });
});

/**
 * Streams `exchanges` (5,000 trades each at 1,000/s), calls `disrupt` once the first has 2,000
 * trades on the primary, then asserts the full tapes and a clean watch with `minLate` late trades.
 */
async function withOutage(
  exchanges: string[],
  disrupt: (env: Env, stream: CliProcess) => Promise<void>,
  minLate: number,
): Promise<void> {
  const startMicros = Date.now() * 1000;
  const fakes = exchanges.map((exchange) => ({
    exchange,
    trades: 5_000,
    ratePerSec: 1_000,
    startMicros,
  }));
  await withEnv(fakes, async (env) => {
    const watch = await PriceWatch.open(env.redis.url);
    try {
      const stream = env.startStream(ARGS);
      await stream.waitForLine(/stream started/);
      const market = env.fakes[0].tape[0].market;
      await waitFor(async () => (await tradeCount(env.client, market)) > 2_000, 20_000);
      await disrupt(env, stream);
      await allLanded(env, 5_000);
      await assertClean(watch, minLate);
    } finally {
      watch.close();
    }
  });
}

Deno.test("replay after an outage: the trades written late are flagged late, never on btc_price, and P:btc:last only moves forward", async () => {
  await withOutage(["binance", "coinbase"], async (env) => {
    env.redis.pause();
    await sleep(2_000);
    env.redis.resume();
  }, 500);
});

Deno.test("reconciliation: a primary restarted empty gets the journal's trades re-applied late, P:btc:last never back in time", async () => {
  await withOutage(["binance"], async (env, stream) => {
    await env.redis.restart(); // --save "" --appendonly no: it comes back empty
    await stream.waitForLine(/primary lost trades it had acknowledged/, 30_000);
  }, 2_000);
});

Deno.test("sync: P:btc:last and the legacy keys end on the consolidated market's newest trade, nothing on btc_price, every replayed trade late", async () => {
  const startMicros = Date.now() * 1000;
  const trades = 2_000;
  await withEnv([
    { exchange: "binance", trades, ratePerSec: 2_000, startMicros },
    { exchange: "coinbase", trades, ratePerSec: 2_000, startMicros },
  ], async (env) => {
    // The primary is away for the whole run: everything is journaled, nothing written.
    const away = `redis://127.0.0.1:${await freePort()}`;
    env.startStream(ARGS, away);
    await waitFor(() => (env.status()?.outbox.depth ?? 0) >= 2 * trades, 30_000, "journaled");
    await env.stream!.stop();
    const [binance] = env.fakes;
    // The primary held an older binance trade (written before the outage).
    const older = binance.tape[100];
    await env.client.hset(btcLastKey("btcfeed"), {
      market: older.market,
      ts: String(older.ts),
      price: older.price,
      trade_id: older.tradeId,
    });
    const watch = await PriceWatch.open(env.redis.url);
    try {
      const r = await runCli([
        "sync",
        "--json",
        ...sourceArgs(env.fakes).slice(0, 2),
        "--legacy-keys",
        "--data-dir",
        env.dataDir,
        "--primary",
        env.redis.url,
      ]);
      assertEquals(r.code, 0, r.stderr);
      assertEquals(JSON.parse(r.stdout).remaining, 0);
      for (const f of env.fakes) await assertFullTape(env.client, f);
      const newest = binance.tape[trades - 1];
      const last = await env.client.hgetall(btcLastKey("btcfeed"));
      assertEquals([last.market, last.trade_id, last.ts], [
        newest.market,
        newest.tradeId,
        String(newest.ts),
      ]);
      assertEquals(await env.client.get(LEGACY_KEYS.price), newest.price);
      assertEquals(
        await env.client.get(LEGACY_KEYS.updateTime),
        String(Math.floor(newest.ts / 1000)),
      );
      await sleep(300);
      const v = watch.verdict();
      assertEquals(priceFaults(v), NO_PRICE_FAULTS, JSON.stringify(v));
      assertEquals([v.liveTrades, v.lateTrades, v.legacyMessages], [0, 2 * trades, 0]);
    } finally {
      watch.close();
    }
  });
});
