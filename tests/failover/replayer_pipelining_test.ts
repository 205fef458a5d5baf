/**
 * The replayer keeps the next batch on the wire while the primary applies one (two in flight),
 * and that never costs a trade or its order: against a real redis-server, the second batch is
 * applied before the first is acknowledged, a replayer that forgets it (a restart) re-sends it as
 * duplicates, and connections cut at random bytes mid-replay (through the fault proxy) end with
 * every trade once, in order.
 */

import { deepStrictEqual as assertEquals, equal, ok } from "node:assert/strict";
import type { Redis } from "ioredis";
import { createRedis } from "../../lib/redis/client.ts";
import { Journal } from "../../lib/store/journal.ts";
import { Replayer } from "../../lib/failover/replayer.ts";
import { TradeWriter } from "../../lib/redis/writer.ts";
import { marketKeys } from "../../lib/redis/keys.ts";
import { startRedis } from "../support/redis_server.ts";
import { startProxy } from "../support/tcp_proxy.ts";
import { waitFor } from "../support/cli.ts";
import { seededRandom } from "../support/rng.ts";
import { testTrade, withTempDir } from "./_outbox_support.ts";

const MARKETS = ["binance:BTC-USDT", "kraken:BTC-USD"];
/** Trade `i` of the tape, alternating between the two markets. */
const tapeTrade = (i: number) => testTrade(i, MARKETS[i % 2]);

/** A connected client as btcfeed makes them: no offline queue, so a dropped link fails at once. */
async function client(url: string): Promise<Redis> {
  const redis = createRedis(url);
  await redis.connect();
  return redis;
}

/** The trade ids of `market`'s stream on the primary, in stream order. */
async function streamIds(redis: Redis, market: string): Promise<string[]> {
  const entries = await redis.xrange(marketKeys("btcfeed", market).trades, "-", "+");
  return entries.map(([, fields]) => fields[fields.indexOf("trade_id") + 1]);
}

Deno.test("the next batch is applied while the first is settled; a replayer that forgets it re-sends it as duplicates", async () => {
  const server = await startRedis();
  const redis = await client(server.url);
  try {
    await withTempDir(async (dir) => {
      const journal = Journal.open(dir);
      try {
        journal.append(Array.from({ length: 300 }, (_, i) => tapeTrade(i)));
        const options = { holder: "test", batchSize: 100 };
        const first = new Replayer(journal, new TradeWriter(redis), () => false, options);
        const step = await first.step();
        equal(step.kind === "replayed" && step.rows, 100);
        equal(journal.depth(), 200, "only the settled batch is acknowledged");
        const onPrimary = async () =>
          (await streamIds(redis, MARKETS[0])).length + (await streamIds(redis, MARKETS[1])).length;
        await waitFor(async () => (await onPrimary()) === 200, 5_000, "the batch sent behind it");
        first.release();
        const restarted = new Replayer(journal, new TradeWriter(redis), () => false, options);
        const again = await restarted.step();
        assertEquals(again.kind === "replayed" && [again.applied, again.duplicates], [0, 100]);
      } finally {
        journal.close();
      }
    });
  } finally {
    redis.disconnect();
    await server.stop();
  }
});

Deno.test("connections cut at random bytes mid-replay, two batches in flight: every trade once, in order", async () => {
  const server = await startRedis();
  const proxy = await startProxy({ hostname: "127.0.0.1", port: server.port });
  const redis = await client(proxy.url());
  const random = seededRandom(20261202);
  const total = 6_000;
  try {
    await withTempDir(async (dir) => {
      const journal = Journal.open(dir);
      try {
        journal.append(Array.from({ length: total }, (_, i) => tapeTrade(i)));
        const replayer = new Replayer(journal, new TradeWriter(redis), () => false, {
          holder: "test",
          batchSize: 400,
        });
        // Every connection is cut somewhere in its first two or three batches (about 30 KB
        // each), six times; then the link heals.
        const cutSomewhere = () => proxy.cutAfterBytes(20_000 + Math.floor(random() * 60_000));
        cutSomewhere();
        let seenCuts = 0;
        const outcome = await replayer.drain({
          errorRetryMs: 20,
          onError: () => {
            if (proxy.stats.cuts === seenCuts) return; // still reconnecting
            seenCuts = proxy.stats.cuts;
            if (seenCuts < 6) cutSomewhere();
            else proxy.cutAfterBytes(null);
          },
        });
        equal(outcome.kind, "drained");
        ok(proxy.stats.cuts >= 6, `connections cut mid-replay: ${proxy.stats.cuts}`);
        equal(journal.depth(), 0);
        for (const [m, market] of MARKETS.entries()) {
          const expected = Array.from(
            { length: total / 2 },
            (_, k) => tapeTrade(2 * k + m).tradeId,
          );
          assertEquals(await streamIds(redis, market), expected);
        }
      } finally {
        journal.close();
      }
    });
  } finally {
    redis.disconnect();
    await proxy.stop();
    await server.stop();
  }
});
