/**
 * Each of the six exchanges end to end through the real `btcfeed stream`: the fake publishes a
 * tape in the exchange's own protocol and the primary must end up holding exactly that tape.
 */

import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { waitFor } from "../support/cli.ts";
import { btcLastKey } from "../../lib/redis/keys.ts";
import { assertFullTape, tradeCount, withEnv } from "./_harness.ts";

const TRADES = 1_500;

for (const exchange of ["binance", "coinbase", "kraken", "bitstamp", "okx", "bybit"]) {
  Deno.test(`${exchange}: every trade lands once, in order, with the exchange's exact fields, last and exact candles`, async () => {
    await withEnv([{
      exchange,
      trades: TRADES,
      ratePerSec: 3_000,
      startMicros: Date.now() * 1000,
    }], async (env) => {
      const fake = env.fakes[0];
      const market = fake.tape[0].market;
      const stream = env.startStream();
      await waitFor(
        async () => (await tradeCount(env.client, market)) >= TRADES,
        30_000,
        `${TRADES} ${exchange} trades`,
      );
      await assertFullTape(env.client, fake);
      const last = await env.client.hgetall(btcLastKey("btcfeed"));
      const final = fake.tape[TRADES - 1];
      assertEquals([last.market, last.trade_id, last.price], [market, final.tradeId, final.price]);
      await waitFor(() => env.status()?.markets[market]?.trades === TRADES, 5_000, "status");
      const m = env.status()!.markets[market];
      assertEquals([m.state, m.gaps, m.quarantined], ["live", 0, {}]);
      assertEquals((await stream.stop()).code, 0);
    });
  });
}
