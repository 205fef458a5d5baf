import assert from "node:assert/strict";
import { MarketSequencer } from "../../lib/feed/sequencer.ts";
import { compareEntryIds, type RawTrade } from "../../lib/trade.ts";

function raw(tradeId: string | number | bigint, ts: number, market = "binance:BTC-USDT"): RawTrade {
  return {
    market,
    tradeId: String(tradeId),
    price: "117250.01",
    size: "0.001",
    side: "buy",
    ts,
    receivedAt: ts + 5,
  };
}

function assertIncreasing(ids: string[]) {
  for (let i = 1; i < ids.length; i++) {
    assert.equal(compareEntryIds(ids[i - 1], ids[i]), -1, `${ids[i - 1]} !< ${ids[i]}`);
  }
}

Deno.test("contiguous: repeated and older trade ids are dropped as duplicates, the rest pass once", () => {
  const s = new MarketSequencer("contiguous");
  const r1 = s.accept([raw(10, 1000), raw(11, 1000), raw(12, 1001)]);
  assert.deepEqual(r1.trades.map((t) => t.id), ["1000-10", "1000-11", "1001-12"]);
  const r2 = s.accept([raw(11, 1000), raw(12, 1001), raw(13, 1002), raw(13, 1002)]);
  assert.deepEqual(r2.trades.map((t) => t.tradeId), ["13"]);
  assert.equal(r2.duplicates, 3);
  assert.equal(r2.gap, null);
});

Deno.test("contiguous: an id jump stops sequencing at the gap and returns the unprocessed rest", () => {
  const s = new MarketSequencer("contiguous");
  const r = s.accept([raw(10, 1000), raw(11, 1001), raw(15, 1005), raw(16, 1006)]);
  assert.deepEqual(r.trades.map((t) => t.tradeId), ["10", "11"]);
  assert.deepEqual(r.gap, {
    afterTradeId: "11",
    afterTs: 1001,
    beforeTradeId: "15",
    beforeTs: 1005,
  });
  assert.deepEqual(r.rest.map((t) => t.tradeId), ["15", "16"]);
  assert.equal(s.last?.tradeId, "11", "nothing past the gap is sequenced");
  // The backfilled trades, then the rest, complete the sequence without a second gap.
  const fill = s.accept([raw(12, 1002), raw(13, 1003), raw(14, 1004)]);
  assert.equal(fill.gap, null);
  const after = s.accept(r.rest);
  assert.equal(after.gap, null);
  assert.deepEqual(after.trades.map((t) => t.tradeId), ["15", "16"]);
});

Deno.test("contiguous: bridge accepts a gap the caller has already dealt with", () => {
  const s = new MarketSequencer("contiguous");
  s.accept([raw(1, 1)]);
  const r = s.accept([raw(5, 5), raw(9, 9)], { bridge: true });
  assert.equal(r.gap, null);
  assert.deepEqual(r.trades.map((t) => t.tradeId), ["5", "9"]);
});

Deno.test("seeding from storage: a restart neither repeats the stored trade nor misses the next", () => {
  const s = new MarketSequencer("contiguous");
  s.seed({ tradeId: "100", ts: 5000, id: "5000-100" });
  const r = s.accept([raw(99, 4999), raw(100, 5000), raw(101, 5001)]);
  assert.equal(r.duplicates, 2);
  assert.deepEqual(r.trades.map((t) => t.id), ["5001-101"]);
  const s2 = new MarketSequencer("contiguous");
  s2.seed({ tradeId: "100", ts: 5000, id: "5000-100" });
  const g = s2.accept([raw(103, 5003)]);
  assert.deepEqual(g.gap, {
    afterTradeId: "100",
    afterTs: 5000,
    beforeTradeId: "103",
    beforeTs: 5003,
  });
});

Deno.test("seeding keeps the stored entry ID's clock: later trades with older times still sort after it", () => {
  const s = new MarketSequencer("contiguous");
  s.seed({ tradeId: "100", ts: 5000, id: "5010-100" });
  const r = s.accept([raw(101, 5001)]);
  assert.equal(r.trades[0].id, "5010-101");
  assert.equal(r.trades[0].ts, 5001, "the trade's own time is kept");
});

Deno.test("an exchange clock going backwards keeps entry IDs increasing without changing trade times", () => {
  const s = new MarketSequencer("contiguous");
  const r = s.accept([raw(1, 2000), raw(2, 1500), raw(3, 1999), raw(4, 2001)]);
  assert.deepEqual(r.trades.map((t) => t.id), ["2000-1", "2000-2", "2000-3", "2001-4"]);
  assert.deepEqual(r.trades.map((t) => t.ts), [2000, 1500, 1999, 2001]);
  assert.equal(s.clockAdjusted, 0, "a larger trade id in the same ms needs no adjustment");
});

Deno.test("non-contiguous: a smaller id in the same ms moves to last ms + 1 and is counted", () => {
  const s = new MarketSequencer("none");
  const r = s.accept([raw(500, 1000), raw(300, 1000), raw(400, 999)]);
  assert.deepEqual(r.trades.map((t) => t.id), ["1000-500", "1001-300", "1001-400"]);
  assert.equal(s.clockAdjusted, 1);
  assertIncreasing(r.trades.map((t) => t.id));
});

Deno.test("non-contiguous: ids are not a sequence, so jumps are no gap and repeats are duplicates", () => {
  const s = new MarketSequencer("none");
  const r1 = s.accept([raw(7, 1), raw(3, 2), raw(900, 3)]);
  assert.equal(r1.gap, null);
  assert.equal(r1.trades.length, 3);
  const r2 = s.accept([raw(3, 2), raw(900, 3), raw(901, 4)]);
  assert.equal(r2.duplicates, 2);
  assert.deepEqual(r2.trades.map((t) => t.tradeId), ["901"]);
  assert.ok(s.hasSeen(raw(7, 1)));
  assert.ok(!s.hasSeen(raw(8, 1)));
});

Deno.test("non-contiguous: the recent-id set is bounded and forgets the oldest ids first", () => {
  const s = new MarketSequencer("none", { recentIdLimit: 3 });
  s.accept([raw(1, 1), raw(2, 2), raw(3, 3), raw(4, 4)]);
  assert.ok(!s.hasSeen(raw(1, 0)));
  assert.ok(s.hasSeen(raw(2, 0)) && s.hasSeen(raw(3, 0)) && s.hasSeen(raw(4, 0)));
});

Deno.test("19-digit ids beyond 2^53 (Bybit-like) are compared exactly, never as floats", () => {
  const base = 2290000000123456789n; // Number(base) === Number(base + 1n)
  assert.equal(Number(base), Number(base + 1n));
  const s = new MarketSequencer("contiguous");
  const r = s.accept([raw(base, 10), raw(base + 1n, 10), raw(base + 1n, 10), raw(base + 2n, 11)]);
  assert.deepEqual(r.trades.map((t) => t.tradeId), [
    "2290000000123456789",
    "2290000000123456790",
    "2290000000123456791",
  ]);
  assert.equal(r.duplicates, 1);
  const g = s.accept([raw(base + 4n, 12)]);
  assert.equal(g.gap?.beforeTradeId, "2290000000123456793");
  const n = new MarketSequencer("none");
  const rn = n.accept([raw(base + 1n, 10), raw(base, 10)]);
  assert.deepEqual(rn.trades.map((t) => t.id), [
    "10-2290000000123456790",
    "11-2290000000123456789",
  ]);
  assert.ok(n.hasSeen(raw(base, 0)) && !n.hasSeen(raw(base + 2n, 0)));
});

Deno.test("trade ids that are not integer text are counted as invalid and never sequenced", () => {
  const s = new MarketSequencer("contiguous");
  const r = s.accept([raw("abc", 1), raw("1.5", 1), raw("1", 1)]);
  assert.equal(r.invalid, 2);
  assert.deepEqual(r.trades.map((t) => t.tradeId), ["1"]);
});

Deno.test("contiguous: an old id arriving long after the newest trade is flagged as an id regression, not a quiet duplicate", () => {
  const s = new MarketSequencer("contiguous");
  s.accept([raw(1_000, 1_000_000)]);
  const overlap = s.accept([raw(999, 999_999)]);
  assert.equal(overlap.duplicates, 1);
  assert.equal(overlap.idRegressions, 0);
  const reset = s.accept([raw(1, 1_000_000 + 60_001), raw(2, 1_000_000 + 60_002)]);
  assert.equal(reset.duplicates, 2);
  assert.equal(reset.idRegressions, 2);
  assert.equal(reset.trades.length, 0);
});
