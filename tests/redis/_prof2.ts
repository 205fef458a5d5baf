import { createRedis } from "../../lib/redis/client.ts";
import { startRedis } from "../support/redis_server.ts";
const server = await startRedis();
const redis = createRedis(server.url, { commandTimeoutMs: 30000 });
await redis.connect();
const sha = await redis.script("LOAD", "return {0,0,0}") as string;
const N = 100000;
for (const packed of [false, true, false, true]) {
  const t0 = performance.now();
  for (let b = 0; b < N; b += 2000) {
    const p = redis.pipeline();
    for (let c = 0; c < 20; c++) {
      const args: (string | number)[] = [
        "k1",
        "k2",
        "k3",
        "k4",
        "k5",
        "k6",
        "k7",
        "binance:BTC-USDT",
        1000000,
        "1",
        "0",
        "btcfeed:trades",
        "btc_price",
        10080,
      ];
      for (let i = 0; i < 100; i++) {
        const n = b + c * 100 + i;
        const ts = 1735689600000 + n * 3;
        if (packed) {
          args.push(`${ts}-${n} ${n} ${100000 + n % 5000}.12 0.00123 buy ${ts} ${ts + 20}`);
        } else {args.push(
            `${ts}-${n}`,
            String(n),
            `${100000 + n % 5000}.12`,
            "0.00123",
            "buy",
            ts,
            ts + 20,
          );}
      }
      p.evalsha(sha, 7, ...args);
    }
    await p.exec();
  }
  const dt = performance.now() - t0;
  console.log(
    packed ? "packed" : "7 args",
    (dt * 1000 / N).toFixed(2),
    "us/trade client+transport",
  );
}
console.log(
  (await redis.info("commandstats")).split("\n").filter((l) => /evalsha/.test(l)).join("\n"),
);
redis.disconnect();
await server.stop();
