import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { Redis } from "ioredis";
import { startRedis } from "../support/redis_server.ts";
import { startFakeExchange } from "../support/fake_exchange.ts";
import { spawnCli, waitFor } from "../support/cli.ts";
import { describeVerdict, verifyMarket } from "../support/verify.ts";
import { btcLastKey, marketKeys } from "../../lib/redis/keys.ts";

function streamArgs(opts: { wsUrl: string; restUrl: string; primary: string; dataDir: string }) {
  return [
    "stream",
    "--exchanges",
    "binance",
    "--exchange-url",
    `binance=${opts.wsUrl}`,
    "--rest-url",
    `binance=${opts.restUrl}`,
    "--primary",
    opts.primary,
    "--data-dir",
    opts.dataDir,
    "--http",
    "off",
  ];
}

Deno.test("streams 5,000 Binance trades into Redis: every trade once, in order, exact text, taker side, last and candles", async () => {
  const redis = await startRedis();
  const fake = await startFakeExchange({ exchange: "binance", trades: 5_000, ratePerSec: 5_000 });
  const dataDir = await Deno.makeTempDir();
  const client = new Redis(redis.url, { lazyConnect: true });
  const stream = spawnCli(streamArgs({ ...fake, primary: redis.url, dataDir }));
  try {
    const keys = marketKeys("btcfeed", fake.tape[0].market);
    await waitFor(async () => (await client.xlen(keys.trades)) === 5_000, 30_000, "5,000 trades");
    const verdict = await verifyMarket(client, "btcfeed", fake.tape);
    assertEquals(
      describeVerdict(verdict),
      describeVerdict({
        ...verdict,
        lost: 0,
        duplicated: 0,
        reordered: 0,
        mismatched: [],
        badCandles: [],
        badLast: null,
      }),
    );
    // Binance m:true means the buyer was the maker: the taker sold.
    assertEquals(
      fake.tape.some((t) => t.side === "sell") && fake.tape.some((t) => t.side === "buy"),
      true,
    );
    const consolidated = await client.hgetall(btcLastKey("btcfeed"));
    assertEquals(consolidated.trade_id, fake.tape[4_999].tradeId);
    assertEquals(consolidated.market, "binance:BTC-USDT");
  } finally {
    const status = await stream.stop();
    client.disconnect();
    await fake.stop();
    await redis.stop();
    await Deno.remove(dataDir, { recursive: true });
    assertEquals(status.code, 0, stream.lines.slice(-10).join("\n"));
  }
});

Deno.test("reconnects on its own when the exchange drops the connection mid-stream, missing nothing", async () => {
  const redis = await startRedis();
  const fake = await startFakeExchange({
    exchange: "binance",
    trades: 2_000,
    ratePerSec: 2_000,
    dropAfter: 800,
  });
  const dataDir = await Deno.makeTempDir();
  const client = new Redis(redis.url, { lazyConnect: true });
  const stream = spawnCli(streamArgs({ ...fake, primary: redis.url, dataDir }));
  try {
    const keys = marketKeys("btcfeed", fake.tape[0].market);
    await waitFor(async () => (await client.xlen(keys.trades)) === 2_000, 30_000, "2,000 trades");
    assertEquals(fake.connections >= 2, true, "the fake saw a second connection");
    const verdict = await verifyMarket(client, "btcfeed", fake.tape);
    assertEquals(
      [verdict.lost, verdict.duplicated, verdict.reordered],
      [0, 0, 0],
      describeVerdict(verdict),
    );
  } finally {
    await stream.stop();
    client.disconnect();
    await fake.stop();
    await redis.stop();
    await Deno.remove(dataDir, { recursive: true });
  }
});
