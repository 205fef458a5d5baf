import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { waitFor } from "../support/cli.ts";
import { describeVerdict, verifyMarket } from "../support/verify.ts";
import { btcLastKey } from "../../lib/redis/keys.ts";
import { assertFullTape, tradeCount, withEnv } from "./_harness.ts";

Deno.test("streams 5,000 Binance trades into Redis: every trade once, in order, exact text, taker side, last and candles", async () => {
  await withEnv([{ exchange: "binance", trades: 5_000, ratePerSec: 5_000 }], async (env) => {
    const fake = env.fakes[0];
    const stream = env.startStream();
    await waitFor(
      async () => (await tradeCount(env.client, fake.tape[0].market)) === 5_000,
      30_000,
      "5,000 trades",
    );
    await assertFullTape(env.client, fake);
    // Binance m:true means the buyer was the maker: the taker sold.
    assertEquals(
      fake.tape.some((t) => t.side === "sell") && fake.tape.some((t) => t.side === "buy"),
      true,
    );
    const consolidated = await env.client.hgetall(btcLastKey("btcfeed"));
    assertEquals(consolidated.trade_id, fake.tape[4_999].tradeId);
    assertEquals(consolidated.market, "binance:BTC-USDT");
    const status = await stream.stop();
    assertEquals(status.code, 0, stream.lines.slice(-10).join("\n"));
  });
});

Deno.test("reconnects on its own when the exchange drops the connection mid-stream, missing nothing", async () => {
  await withEnv([{
    exchange: "binance",
    trades: 2_000,
    ratePerSec: 2_000,
    dropAfter: 800,
  }], async (env) => {
    const fake = env.fakes[0];
    env.startStream();
    await waitFor(
      async () => (await tradeCount(env.client, fake.tape[0].market)) === 2_000,
      30_000,
      "2,000 trades",
    );
    assertEquals(fake.connections >= 2, true, "the fake saw a second connection");
    const verdict = await verifyMarket(env.client, "btcfeed", fake.tape);
    assertEquals(
      [verdict.lost, verdict.duplicated, verdict.reordered],
      [0, 0, 0],
      describeVerdict(verdict),
    );
  });
});
