/**
 * The consolidated price `P:btc:last` end to end: it follows the highest-priority healthy
 * market, moves to the next one when that market goes away, and leaves out a market whose
 * price strays from the others.
 */

import { deepStrictEqual as assertEquals, ok } from "node:assert/strict";
import { waitFor } from "../support/cli.ts";
import { sleep } from "../support/rig.ts";
import { btcLastKey } from "../../lib/redis/keys.ts";
import type { FakeExchangeOptions } from "../support/fake_exchange.ts";
import { tradeCount, withEnv } from "./_harness.ts";

function fakes(binanceOffset = 0): FakeExchangeOptions[] {
  const startMicros = Date.now() * 1000;
  return ["binance", "coinbase", "kraken"].map((exchange) => ({
    exchange,
    trades: 30_000,
    ratePerSec: 300,
    startMicros,
    priceOffset: exchange === "binance" ? binanceOffset : 0,
  }));
}

Deno.test("P:btc:last follows the highest-priority market, and moves to the next one when that exchange goes away", async () => {
  await withEnv(fakes(), async (env) => {
    const [binance, coinbase] = env.fakes;
    const markets = env.fakes.map((f) => f.tape[0].market);
    env.startStream();
    for (const m of markets) {
      await waitFor(async () => (await tradeCount(env.client, m)) > 50, 20_000, `${m} trades`);
    }
    const key = btcLastKey("btcfeed");
    await waitFor(async () => (await env.client.hget(key, "market")) === markets[0], 5_000, "bin");
    assertEquals(env.status()?.consolidatedMarket, markets[0]);
    const fromBinance = await env.client.hgetall(key);
    ok(binance.tape.some((t) => t.tradeId === fromBinance.trade_id), "a binance trade");

    await binance.stop();
    await waitFor(async () => (await env.client.hget(key, "market")) === markets[1], 10_000, "cb");
    await waitFor(() => env.status()?.consolidatedMarket === markets[1], 5_000, "status");
    const before = await env.client.hgetall(key);
    await sleep(600);
    const after = await env.client.hgetall(key);
    assertEquals(after.market, markets[1]);
    ok(BigInt(after.trade_id) > BigInt(before.trade_id), "it keeps following coinbase's trades");
    const t = coinbase.tape.find((t) => t.tradeId === after.trade_id)!;
    assertEquals([after.price, after.size, after.side], [t.price, t.size, t.side]);
  });
});

Deno.test("a market whose price strays far from the others is flagged as an outlier and left out of P:btc:last", async () => {
  // Binance (first priority) trades about 17% above Coinbase and Kraken.
  await withEnv(fakes(20_000), async (env) => {
    const markets = env.fakes.map((f) => f.tape[0].market);
    env.startStream();
    for (const m of markets) {
      await waitFor(async () => (await tradeCount(env.client, m)) > 50, 20_000, `${m} trades`);
    }
    await waitFor(() => env.status()?.markets[markets[0]]?.outlier === true, 5_000, "flagged");
    const key = btcLastKey("btcfeed");
    await waitFor(async () => (await env.client.hget(key, "market")) === markets[1], 5_000, "cb");
    const status = env.status()!;
    assertEquals(
      markets.map((m) => status.markets[m].outlier),
      [true, false, false],
    );
    assertEquals(status.consolidatedMarket, markets[1]);
    ok(status.counters.outlierEvents >= 1, "the outlier event is counted in status.json");
    for (let i = 0; i < 5; i++) {
      await sleep(200);
      const last = await env.client.hgetall(key);
      assertEquals(last.market, markets[1]);
      ok(Number(last.price) < 130_000, `consolidated price ${last.price} is not the outlier's`);
    }
    ok(
      env.stream!.lines.filter((l) => l.includes("strays from the median")).length === 1,
      "logged once",
    );
  });
});
