/**
 * Salvage of gap recovery's state, on real SQLite files: held trades and pending gaps go back
 * per market only where the live store knows nothing of that market; elsewhere (a stream went
 * on past them) they are counted as superseded and never appended, so they cannot be applied
 * out of order.
 */

import assert from "node:assert/strict";
import { RecoveryStore, type StoredPendingGap } from "../../lib/store/recovery_store.ts";
import { GapStore } from "../../lib/store/gap_store.ts";
import { Journal } from "../../lib/store/journal.ts";
import { salvageAll, setAsideCorruptStore } from "../../lib/store/salvage.ts";
import type { RawTrade, Trade } from "../../lib/trade.ts";

const A = "binance:BTC-USDT", B = "kraken:BTC-USD";

const raw = (market: string, id: number): RawTrade => ({
  market,
  tradeId: String(id),
  price: "100.10",
  size: "0.5",
  side: "buy",
  ts: 1_700_000_000_000 + id,
  receivedAt: 1_700_000_000_100 + id,
});

const pendingGap = (market: string): StoredPendingGap => ({
  market,
  reason: "id_gap",
  afterTradeId: "10",
  afterTs: 1_700_000_000_010,
  beforeTradeId: "100",
  beforeTs: 1_700_000_000_100,
  resumeAfter: { tradeId: "40", ts: 1_700_000_000_040 },
  recovered: 30,
  startedAt: 1_700_000_000_500,
});

/** A store file with held trades 100.. of A and B (interleaved holds) and a pending gap each, moved aside. */
function asideStore(dir: string): void {
  const old = RecoveryStore.open(dir);
  old.hold(A, [100, 101, 102].map((i) => ({ trade: raw(A, i), fresh: i === 100 })));
  old.hold(B, [100, 101].map((i) => ({ trade: raw(B, i), fresh: false })));
  old.hold(A, [103, 104].map((i) => ({ trade: raw(A, i), fresh: false })));
  old.savePending(pendingGap(A));
  old.savePending(pendingGap(B));
  old.close();
  setAsideCorruptStore(dir);
}

function liveStores(dir: string) {
  const journal = Journal.open(dir);
  const gaps = GapStore.open(dir);
  const recovery = RecoveryStore.open(dir);
  return {
    journal,
    gaps,
    recovery,
    close() {
      recovery.close();
      gaps.close();
      journal.close();
    },
  };
}

Deno.test("salvage restores the held trades (in order, fresh flag kept) and the pending gap of a market the live store never saw, and supersedes those of a market a stream went on with, recording that gap up to its first trade since", async () => {
  const dir = await Deno.makeTempDir({ prefix: "btcfeed-salvage-recovery-" });
  try {
    asideStore(dir);
    const live = liveStores(dir);
    // The stream that started on the new store streamed B on, past its gap.
    const onB: Trade = { ...raw(B, 500), id: "1700000000500-500" };
    live.journal.append([onB]);
    const [r] = salvageAll(dir, live, true);
    assert.deepEqual(
      [r.heldTrades, r.heldSuperseded, r.heldUnreadable, r.pendingGaps, r.pendingGapsSuperseded],
      [5, 2, 0, 1, 1],
    );
    assert.equal(r.pendingGapsRecorded, 1);
    const recorded = live.gaps.peek(10).map((g) => g.gap);
    assert.deepEqual(recorded, [{
      market: B,
      reason: "id_gap",
      afterTradeId: "10",
      beforeTradeId: "500",
      fromTs: 1_700_000_000_010,
      toTs: 1_700_000_000_500,
      recovered: 30,
      missing: 489 - 30,
    }], "B's gap is recorded up to the stream's first trade since, not forgotten");
    assert.deepEqual(
      live.recovery.held(A, 100).map((h) => [h.trade.tradeId, h.fresh]),
      [["100", true], ["101", false], ["102", false], ["103", false], ["104", false]],
    );
    assert.deepEqual(live.recovery.pending(A), pendingGap(A));
    assert.equal(live.recovery.heldCount(B), 0, "nothing of B put back behind its newer trades");
    assert.equal(live.recovery.pending(B), null);
    assert.deepEqual(salvageAll(dir, live, true), [], "salvaged once");
    live.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("with a stream running on the live store (no restore), held trades and pending gaps are all counted as superseded, none appended", async () => {
  const dir = await Deno.makeTempDir({ prefix: "btcfeed-salvage-recovery-" });
  try {
    asideStore(dir);
    const live = liveStores(dir);
    const [r] = salvageAll(dir, live, false);
    assert.deepEqual(
      [r.heldTrades, r.heldSuperseded, r.pendingGaps, r.pendingGapsSuperseded],
      [0, 7, 0, 2],
    );
    assert.equal(r.pendingGapsRecorded, 0, "no trade since to bound them: nothing to record yet");
    assert.equal(live.recovery.heldTotal(), 0);
    assert.deepEqual(live.recovery.allPending(), []);
    live.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
