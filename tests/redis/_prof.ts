import { createRedis } from "/work/main/lib/redis/client.ts";
import { TradeWriter } from "/work/main/lib/redis/writer.ts";
import { entryIdFor, type Trade } from "/work/main/lib/trade.ts";
import { startRedis } from "/work/main/tests/support/redis_server.ts";
const MARKETS = ["binance:BTC-USDT", "coinbase:BTC-USD", "kraken:BTC-USD", "bitstamp:BTC-USD"];
const server = await startRedis();
const redis = createRedis(server.url, { commandTimeoutMs: 30000 });
await redis.connect();
const N = 100000;
const trades = Array.from({ length: N }, (_, i): Trade => {
  const ts = Date.UTC(2025, 0, 1) + i * 3;
  const tradeId = String(1e6 + i);
  return {
    market: MARKETS[i % 4],
    tradeId,
    price: `${100000 + (i % 5000)}.${String(i % 100).padStart(2, "0")}`,
    size: `0.${String((i % 99999) + 1).padStart(5, "0")}`,
    side: i % 2 ? "buy" : "sell",
    ts,
    receivedAt: ts + 20,
    id: entryIdFor(ts, tradeId),
  };
});
const legacy = Deno.args[0] === "legacy";
const w = new TradeWriter(redis, { legacyKeys: legacy });
const cpu0 = await redis.info("cpu");
const t0 = performance.now();
for (let i = 0; i < N; i += 2000) await w.apply(trades.slice(i, i + 2000), (m) => m === MARKETS[0]);
const dt = performance.now() - t0;
console.log("trades/s", Math.round(N / dt * 1000), "server us/trade", 0);
console.log(
  (await redis.info("commandstats")).split("\n").filter((l) => /evalsha|script/.test(l)).join("\n"),
);
console.log(
  cpu0.split("\n").filter((l) => /used_cpu_(sys|user):/.test(l)).join(" "),
  (await redis.info("cpu")).split("\n").filter((l) => /used_cpu_(sys|user):/.test(l)).join(" "),
);
redis.disconnect();
await server.stop();
