/**
 * Malformed exchange messages in the middle of a live stream: each is counted by reason in the
 * status, none becomes a trade in Redis, and the stream carries on with every real trade.
 */

import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { waitFor } from "../support/cli.ts";
import { assertFullTape, tradeCount, withEnv } from "./_harness.ts";

Deno.test("binance: truncated JSON, a NaN price, a zero size and an unknown event are quarantined by reason, never stored, and the stream goes on", async () => {
  await withEnv([{
    exchange: "binance",
    trades: 2_000,
    ratePerSec: 1_000,
    startMicros: Date.now() * 1000,
  }], async (env) => {
    const fake = env.fakes[0];
    const market = fake.tape[0].market;
    env.startStream();
    await waitFor(async () => (await tradeCount(env.client, market)) >= 300, 20_000, "trades");
    const T = Date.now();
    const trade = (id: number, p: string, q: string) =>
      `{"e":"trade","E":${T},"s":"BTCUSDT","t":${id},"p":"${p}","q":"${q}","T":${T},"m":true,"M":true}`;
    fake.sendRaw(`{"e":"trade","E":${T},"s":"BTCUSDT","t":9000000001,"p":"117`);
    fake.sendRaw(trade(9_000_000_002, "NaN", "0.001"));
    fake.sendRaw(trade(9_000_000_003, "117250.01", "0.00000000"));
    fake.sendRaw(`{"e":"liquidation","E":${T},"s":"BTCUSDT"}`);
    await fake.done;
    await waitFor(async () => (await tradeCount(env.client, market)) >= 2_000, 20_000, "all");
    // Exactly the tape: nothing from the bad messages (verify flags any unknown trade id).
    await assertFullTape(env.client, fake);
    await waitFor(
      () => Object.keys(env.status()?.markets[market]?.quarantined ?? {}).length === 4,
      5_000,
      "quarantine counts in status.json",
    );
    assertEquals(env.status()!.markets[market].quarantined, {
      invalid_json: 1,
      bad_price: 1,
      bad_size: 1,
      unknown_event: 1,
    });
    assertEquals(env.status()!.markets[market].state, "live");
  });
});
