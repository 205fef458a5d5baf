/** The recovery store: held trades in order per market across a reopen; one pending gap per market. */

import assert from "node:assert/strict";
import { RecoveryStore } from "../../lib/store/recovery_store.ts";
import type { RawTrade } from "../../lib/trade.ts";

const trade = (market: string, id: number): RawTrade => ({
  market,
  tradeId: String(id),
  price: "100.10",
  size: "0.5",
  side: "buy",
  ts: 1_700_000_000_000 + id,
  receivedAt: 1_700_000_000_100 + id,
});

Deno.test("held trades come back per market in the order held, page by page, across a reopen, and leave only when released", async () => {
  const dir = await Deno.makeTempDir({ prefix: "btcfeed-recovery-" });
  try {
    let store = RecoveryStore.open(dir);
    const a = "binance:BTC-USDT", b = "kraken:BTC-USD";
    store.hold(a, [1, 2, 3].map((i) => ({ trade: trade(a, i), fresh: i === 1 })));
    store.hold(b, [{ trade: trade(b, 9), fresh: false }]);
    store.hold(a, [4, 5].map((i) => ({ trade: trade(a, i), fresh: false })));
    store.close();
    store = RecoveryStore.open(dir);
    assert.equal(store.heldCount(a), 5);
    assert.equal(store.heldTotal(), 6);
    const first = store.held(a, 2);
    assert.deepEqual(first.map((r) => [r.trade.tradeId, r.fresh]), [["1", true], ["2", false]]);
    assert.deepEqual(first[0].trade, trade(a, 1), "the payload as held");
    const next = store.held(a, 10, first[1].seq);
    assert.deepEqual(next.map((r) => r.trade.tradeId), ["3", "4", "5"]);
    store.release(a, first[1].seq);
    assert.deepEqual(store.held(a, 10).map((r) => r.trade.tradeId), ["3", "4", "5"]);
    assert.equal(store.heldCount(b), 1, "another market is untouched");
    store.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("one pending gap per market: saved, replaced with its progress, survives a reopen, cleared", async () => {
  const dir = await Deno.makeTempDir({ prefix: "btcfeed-recovery-" });
  try {
    let store = RecoveryStore.open(dir);
    const gap = {
      market: "binance:BTC-USDT",
      reason: "id_gap" as const,
      afterTradeId: "100",
      afterTs: 1_000,
      beforeTradeId: "5000",
      beforeTs: 9_000,
      resumeAfter: { tradeId: "100", ts: 1_000 },
      recovered: 0,
      startedAt: 123_456,
    };
    store.savePending(gap);
    const progressed = { ...gap, resumeAfter: { tradeId: "2100", ts: 4_000 }, recovered: 2_000 };
    store.savePending(progressed);
    store.savePending({ ...gap, market: "coinbase:BTC-USD", beforeTradeId: null, beforeTs: null });
    store.close();
    store = RecoveryStore.open(dir);
    assert.deepEqual(store.pending(gap.market), progressed);
    assert.equal(store.allPending().length, 2);
    assert.equal(store.pending("coinbase:BTC-USD")?.beforeTradeId, null);
    store.clearPending(gap.market);
    assert.equal(store.pending(gap.market), null);
    assert.deepEqual(store.allPending().map((g) => g.market), ["coinbase:BTC-USD"]);
    store.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
