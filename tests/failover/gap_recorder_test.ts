/**
 * The gap record path on its own, against real redis-server processes: durable first, written
 * once with fixed IDs, re-sends harmless, and nothing lost while the primary is away.
 */

import { deepStrictEqual as assertEquals, ok } from "node:assert/strict";
import { Redis } from "ioredis";
import { startRedis } from "../support/redis_server.ts";
import { startProxy } from "../support/tcp_proxy.ts";
import { createRedis } from "../../lib/redis/client.ts";
import { GapStore } from "../../lib/store/gap_store.ts";
import { GapRecorder } from "../../lib/failover/gap_recorder.ts";
import type { GapRecord } from "../../lib/feed/feed.ts";
import { marketKeys } from "../../lib/redis/keys.ts";
import { log } from "../../lib/log.ts";
import { withTempDir } from "./_outbox_support.ts";

log.configure({ level: "error" });

const MARKET = "binance:BTC-USDT";
const KEY = marketKeys("btcfeed", MARKET).gaps;

function gap(n: number, missing: number | null = 0): GapRecord {
  return {
    market: MARKET,
    reason: n % 2 ? "disconnect" : "id_gap",
    afterTradeId: String(1000 + n * 10),
    beforeTradeId: String(1005 + n * 10),
    fromTs: 1_800_000_000_000 + n,
    toTs: 1_800_000_000_100 + n,
    recovered: missing === null ? 0 : 4 - missing,
    missing,
  };
}

async function entries(redis: Redis): Promise<[string, Record<string, string>][]> {
  return (await redis.xrange(KEY, "-", "+")).map(([id, flat]) => {
    const f: Record<string, string> = {};
    for (let i = 0; i < flat.length; i += 2) f[flat[i]] = flat[i + 1];
    return [id, f];
  });
}

Deno.test("entry IDs are fixed when a record is stored and strictly increase, even when the clock goes back or the store is reopened", async () => {
  await withTempDir((dir) => {
    const store = GapStore.open(dir);
    const a = store.append(gap(0), 5_000);
    const b = store.append(gap(1), 4_000); // the wall clock went back
    store.close();
    const again = GapStore.open(dir);
    const c = again.append(gap(2), 3_000);
    assertEquals([a.entryId, b.entryId, c.entryId], [
      `5000-${a.seq}`,
      `5000-${b.seq}`,
      `5000-${c.seq}`,
    ]);
    ok(a.seq < b.seq && b.seq < c.seq);
    assertEquals(again.peek(10).map((r) => r.entryId), [a.entryId, b.entryId, c.entryId]);
    assertEquals(again.peek(10)[1].gap, gap(1));
    again.remove(b.seq);
    const d = again.append(gap(3, null), 9_000);
    assertEquals(again.peek(10).map((r) => r.seq), [a.seq, c.seq, d.seq]);
    assertEquals(again.peek(10)[2].gap.missing, null);
    again.close();
  });
});

Deno.test("every gap record reaches the primary with the documented fields, and leaves the local store once acknowledged", async () => {
  const server = await startRedis();
  const redis = createRedis(server.url);
  const reader = new Redis(server.url);
  await withTempDir(async (dir) => {
    const store = GapStore.open(dir);
    const rec = new GapRecorder({
      store,
      primary: { redis, url: server.url },
      failover: null,
      prefix: "btcfeed",
    });
    try {
      rec.start();
      rec.record(gap(0));
      rec.record(gap(1, null));
      ok(store.depth() >= 1, "stored before any write");
      await waitUntil(async () => (await reader.xlen(KEY)) === 2);
      const got = await entries(reader);
      assertEquals(got[0][1], {
        reason: "id_gap",
        after_trade_id: "1000",
        before_trade_id: "1005",
        from_ts: "1800000000000",
        to_ts: "1800000000100",
        recovered: "4",
        missing: "0",
      });
      assertEquals([got[1][1].reason, got[1][1].missing, got[1][1].recovered], [
        "disconnect",
        "",
        "0",
      ]);
      await waitUntil(() => store.depth() === 0);
      assertEquals(rec.written, 2);
    } finally {
      await rec.close();
      store.close();
    }
  });
  redis.disconnect();
  reader.disconnect();
  await server.stop();
});

Deno.test("a record the primary already has (an earlier send landed, its acknowledgement was lost) is not written twice", async () => {
  const server = await startRedis();
  const redis = createRedis(server.url);
  const reader = new Redis(server.url);
  await withTempDir(async (dir) => {
    const store = GapStore.open(dir);
    const rec = new GapRecorder({
      store,
      primary: { redis, url: server.url },
      failover: null,
      prefix: "btcfeed",
    });
    try {
      const first = store.append(gap(0), 7_000);
      const second = store.append(gap(2), 7_000);
      // The first send landed on the server, then the process died before removing the row.
      await reader.xadd(KEY, first.entryId, "reason", "id_gap");
      assertEquals(await rec.flush(), true);
      const got = await entries(reader);
      assertEquals(got.map(([id]) => id), [first.entryId, second.entryId]);
      assertEquals(store.depth(), 0);
      // And flushing again (nothing left) is a no-op.
      assertEquals(await rec.flush(), true);
      assertEquals(await reader.xlen(KEY), 2);
    } finally {
      await rec.close();
      store.close();
    }
  });
  redis.disconnect();
  reader.disconnect();
  await server.stop();
});

Deno.test("records stored while the primary refuses connections wait, and are written in order once it answers", async () => {
  const server = await startRedis();
  const proxy = await startProxy({ hostname: "127.0.0.1", port: server.port });
  const redis = createRedis(proxy.url(), { commandTimeoutMs: 300, connectTimeoutMs: 300 });
  const reader = new Redis(server.url);
  await withTempDir(async (dir) => {
    const store = GapStore.open(dir);
    const rec = new GapRecorder(
      { store, primary: { redis, url: proxy.url() }, failover: null, prefix: "btcfeed" },
      { deadlineMs: 300, retryMs: 100 },
    );
    try {
      await proxy.mode("refuse");
      rec.start();
      for (let i = 0; i < 3; i++) rec.record(gap(i));
      await new Promise((r) => setTimeout(r, 500));
      assertEquals(await rec.flush(), false);
      assertEquals([store.depth(), await reader.xlen(KEY)], [3, 0]);
      await proxy.mode("pass");
      await waitUntil(async () => (await reader.xlen(KEY)) === 3, 10_000);
      const got = await entries(reader);
      assertEquals(got.map(([, f]) => f.after_trade_id), ["1000", "1010", "1020"]);
      await waitUntil(() => store.depth() === 0);
    } finally {
      await rec.close();
      store.close();
    }
  });
  redis.disconnect();
  reader.disconnect();
  await proxy.stop();
  await server.stop();
});

async function waitUntil(check: () => boolean | Promise<boolean>, ms = 5_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 25));
  }
}
