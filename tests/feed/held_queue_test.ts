/**
 * Held live trades against the real SQLite recovery store: memory keeps at most the window (plus
 * one batch), the rest is on disk, and they come back in the order held across disk and memory.
 */

import assert from "node:assert/strict";
import { HeldQueue } from "../../lib/feed/_held_queue.ts";
import { RecoveryStore } from "../../lib/store/recovery_store.ts";
import type { RawTrade } from "../../lib/trade.ts";

const M = "binance:BTC-USDT";
const trade = (id: number): RawTrade => ({
  market: M,
  tradeId: String(id),
  price: "1.00",
  size: "1",
  side: "sell",
  ts: id,
  receivedAt: id,
});

Deno.test("held trades spill to disk beyond the window and drain in order, disk first, then memory", async () => {
  const dir = await Deno.makeTempDir({ prefix: "btcfeed-held-" });
  const store = RecoveryStore.open(dir);
  const q = new HeldQueue(M, store, { memoryLimit: 100, flushMs: 60_000 });
  try {
    for (let i = 0; i < 50; i++) {
      q.push(Array.from({ length: 10 }, (_, j) => trade(i * 10 + j + 1)), i === 7);
      assert.ok(q.size - q.onDisk <= 110, `memory holds the window plus one batch (${i})`);
    }
    assert.equal(q.size, 500);
    assert.ok(q.onDisk >= 390, `the rest is on disk (${q.onDisk})`);
    assert.equal(store.heldCount(M), q.onDisk);
    assert.equal(q.first()?.tradeId, "1");
    const out: string[] = [];
    const fresh: string[] = [];
    while (q.size) {
      const page = q.peek(64);
      for (const h of page) {
        out.push(h.trade.tradeId);
        if (h.fresh) fresh.push(h.trade.tradeId);
      }
      q.drop(page.length);
    }
    assert.deepEqual(out, Array.from({ length: 500 }, (_, i) => String(i + 1)));
    assert.deepEqual(fresh, ["71"], "only the first trade of a fresh batch is marked");
    assert.equal(store.heldCount(M), 0, "released from disk");
  } finally {
    q.close();
    store.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("close() spills the memory window, so a new queue on the same store starts with it", async () => {
  const dir = await Deno.makeTempDir({ prefix: "btcfeed-held-" });
  const store = RecoveryStore.open(dir);
  try {
    const q = new HeldQueue(M, store, { memoryLimit: 1_000, flushMs: 60_000 });
    q.push([trade(1), trade(2), trade(3)], false);
    assert.equal(q.onDisk, 0);
    q.close();
    const again = new HeldQueue(M, store);
    assert.equal(again.size, 3);
    assert.deepEqual(again.peek(10).map((h) => h.trade.tradeId), ["1", "2", "3"]);
    again.close();
  } finally {
    store.close();
    await Deno.remove(dir, { recursive: true });
  }
});
