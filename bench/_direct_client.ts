/**
 * The minimal direct client the end-to-end benchmarks compare `btcfeed stream` with (private to
 * bench/): one Binance trade stream, one `XADD` per trade (entry ID `<T>-<t>`, as btcfeed's),
 * nothing else — no validation, no journal, no failover, no candles. Commands are sent as the
 * messages arrive (ioredis pipelines them on its one connection); the first error exits 1.
 *
 * Usage: `deno run -A bench/_direct_client.ts <ws-url> <redis-url> <stream-key>`
 */

import { Redis } from "ioredis";

const [wsUrl, redisUrl, key] = Deno.args;
const redis = new Redis(redisUrl);
const fail = (e: unknown) => {
  console.error(`direct client: ${e instanceof Error ? e.message : e}`);
  Deno.exit(1);
};
const ws = new WebSocket(wsUrl);
ws.onmessage = (e) => {
  const t = JSON.parse(e.data);
  redis.xadd(key, `${t.T}-${t.t}`, "p", t.p, "q", t.q, "m", t.m ? "1" : "0").catch(fail);
};
ws.onerror = () => fail(new Error(`WebSocket ${wsUrl} failed`));
Deno.addSignalListener("SIGTERM", () => {
  ws.close();
  redis.disconnect();
  Deno.exit(0);
});
