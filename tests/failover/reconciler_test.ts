/**
 * The reconciler against a real redis-server that loses data: restarted empty (persistence off),
 * rolled back to an older state, or in step. The journal side is the simplest model of the
 * promise (a list of trades and an acknowledgement watermark), so each assertion reads as the
 * contract: what the primary lost and the journal still has becomes pending again, and what the
 * journal no longer has is a `primary_reset` gap with its exact size.
 */

import assert from "node:assert/strict";
import { Redis } from "ioredis";
import {
  type JournalMark,
  type ReconcileJournal,
  Reconciler,
} from "../../lib/failover/reconciler.ts";
import { TradeWriter } from "../../lib/redis/writer.ts";
import { marketKeys } from "../../lib/redis/keys.ts";
import { compareEntryIds, type Trade } from "../../lib/trade.ts";
import { makeTrades } from "../redis/_helpers.ts";
import { startRedis } from "../support/redis_server.ts";

const M = "binance:BTC-USDT";
const all = () => true;

/** The journal's promise, as data: rows in order, the first `acked` acknowledged. */
class ModelJournal implements ReconcileJournal {
  rows: Trade[];
  acked: number;
  pruned: number;
  constructor(rows: Trade[], acked: number, pruned = 0) {
    this.rows = rows;
    this.acked = acked;
    this.pruned = pruned;
  }
  #mark(i: number): JournalMark {
    const t = this.rows[i];
    return { seq: i + 1, id: t.id, tradeId: t.tradeId, ts: t.ts };
  }
  lastAcked(): JournalMark | null {
    return this.acked > 0 ? this.#mark(this.acked - 1) : null;
  }
  oldestRetained(): JournalMark | null {
    return this.pruned < this.rows.length ? this.#mark(this.pruned) : null;
  }
  hasPruned(): boolean {
    return this.pruned > 0;
  }
  rewindAfter(_market: string, entryId: string): number {
    const keep = this.rows.findIndex((t, i) =>
      i >= this.pruned && compareEntryIds(t.id, entryId) > 0
    );
    const from = keep < 0 ? this.acked : Math.min(keep, this.acked);
    const n = this.acked - from;
    this.acked = from;
    return n;
  }
}

async function withPrimary(fn: (redis: Redis, restart: () => Promise<void>) => Promise<void>) {
  const server = await startRedis();
  const redis = new Redis(server.url, { maxRetriesPerRequest: 1 });
  try {
    await fn(redis, () => server.restart());
  } finally {
    redis.disconnect();
    await server.stop();
  }
}

function reconciler(redis: Redis, journal: ReconcileJournal): Reconciler {
  return new Reconciler({
    redis,
    prefix: "btcfeed",
    journal,
    contiguous: () => true,
    deadlineMs: 2_000,
  });
}

Deno.test("a primary in step with the journal needs nothing, even when its newest entry was deleted", async () => {
  await withPrimary(async (redis) => {
    const trades = makeTrades(M, 1, 100);
    await new TradeWriter(redis).apply(trades, all);
    const journal = new ModelJournal(trades, 100);
    assert.deepEqual(await reconciler(redis, journal).check([M]), []);
    await redis.xdel(marketKeys("btcfeed", M).trades, trades[99].id);
    assert.deepEqual(await reconciler(redis, journal).check([M]), []);
    assert.equal(journal.acked, 100);
  });
});

Deno.test("a primary restarted empty gets every retained trade back as pending, and no gap when the journal kept them all", async () => {
  await withPrimary(async (redis, restart) => {
    const trades = makeTrades(M, 1, 300);
    await new TradeWriter(redis).apply(trades, all);
    await restart(); // persistence is off: the restarted primary is empty
    const journal = new ModelJournal(trades, 300);
    const [reset, ...more] = await reconciler(redis, journal).check([M]);
    assert.deepEqual(more, []);
    assert.equal(reset.primaryNewest, null);
    assert.equal(reset.reapplied, 300);
    assert.deepEqual([reset.gap.recovered, reset.gap.missing], [300, 0]);
    assert.equal(reset.gap.beforeTradeId, trades[299].tradeId);
    assert.equal(journal.acked, 0);
  });
});

Deno.test("a primary rolled back to an older state gets the trades after its newest re-applied, the rest counted exactly", async () => {
  await withPrimary(async (redis) => {
    const trades = makeTrades(M, 1, 100);
    const writer = new TradeWriter(redis);
    await writer.apply(trades.slice(0, 30), all); // what the older snapshot holds
    // The journal kept trades 51..100 only (50 pruned); 1..100 were acknowledged.
    const journal = new ModelJournal(trades, 100, 50);
    const [reset] = await reconciler(redis, journal).check([M]);
    assert.equal(reset.primaryNewest, trades[29].id);
    assert.equal(reset.reapplied, 50);
    assert.equal(journal.acked, 50);
    assert.deepEqual(reset.gap, {
      market: M,
      reason: "primary_reset",
      afterTradeId: trades[29].tradeId,
      beforeTradeId: trades[99].tradeId,
      fromTs: trades[29].ts,
      toTs: trades[99].ts,
      recovered: 50,
      missing: 20,
    });
  });
});

Deno.test("a primary behind by less than the retention gets exactly the trades it lacks, no gap", async () => {
  await withPrimary(async (redis) => {
    const trades = makeTrades(M, 1, 100);
    await new TradeWriter(redis).apply(trades.slice(0, 80), all);
    const journal = new ModelJournal(trades, 100, 50);
    const [reset] = await reconciler(redis, journal).check([M]);
    assert.equal(reset.reapplied, 20);
    assert.deepEqual([reset.gap.recovered, reset.gap.missing], [20, 0]);
    assert.equal(journal.acked, 80);
  });
});

Deno.test("an emptied primary with a pruned journal records a primary_reset gap of unknown size", async () => {
  await withPrimary(async (redis) => {
    const trades = makeTrades(M, 1, 100);
    const journal = new ModelJournal(trades, 100, 40);
    const [reset] = await reconciler(redis, journal).check([M]);
    assert.equal(reset.reapplied, 60);
    assert.equal(reset.gap.reason, "primary_reset");
    assert.equal(reset.gap.missing, null);
    assert.equal(reset.gap.afterTradeId, "");
  });
});

Deno.test("a market the journal never acknowledged is not checked", async () => {
  await withPrimary(async (redis) => {
    const journal = new ModelJournal(makeTrades(M, 1, 10), 0);
    assert.deepEqual(await reconciler(redis, journal).check([M]), []);
  });
});
