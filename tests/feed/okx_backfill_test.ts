/**
 * OKX backfill from `history-trades` against the fake OKX, which enforces OKX's published limit
 * (20 requests per 2 s per IP, HTTP 429 code 50011 over it): the gap is recovered exactly, in
 * order, page by page, without one refused request; a gap that ends at a live aggregate
 * (`count` fills) leaves that aggregate's own fills to the aggregate; what OKX no longer keeps is
 * counted exactly.
 */

import assert from "node:assert/strict";
import { okx } from "../../lib/exchanges/okx.ts";
import { backfill, type BackfillSink, gapRange, gapRecordOf } from "../../lib/feed/backfill.ts";
import { RestBudget } from "../../lib/feed/rest_budget.ts";
import { MarketSequencer } from "../../lib/feed/sequencer.ts";
import type { RawTrade } from "../../lib/trade.ts";
import { type FakeExchange, startFakeExchange } from "../support/fake_exchange.ts";
import { collecting } from "./_harness.ts";
import type { SequenceGap } from "../../lib/feed/sequencer.ts";

const OKX_LIMIT = { units: 20, windowMs: 2_000 };

/** Backfills `gap` from the fake OKX under a fresh OKX budget. */
function fillFrom(fake: FakeExchange, gap: SequenceGap, sink: BackfillSink) {
  const budget = new RestBudget("okx", okx.rest!.limits);
  return backfill(
    { adapter: okx, market: fake.market, restUrl: fake.restUrl, budget },
    gapRange(gap),
    sink,
  );
}

async function publishedFake(trades: number, restRetainFromId?: bigint) {
  const fake = await startFakeExchange({
    exchange: "okx",
    trades,
    ratePerSec: 50_000,
    pauseWhileDisconnected: false,
    restLimits: { ...OKX_LIMIT, banAfterViolations: 1 },
    restRetainFromId,
  });
  await fake.done;
  return fake;
}

Deno.test("okx: a gap of 1,500 trades is backfilled exactly, 100 a page, under OKX's 20 requests / 2 s: no 429", async () => {
  const fake = await publishedFake(2_000);
  try {
    const t = fake.tape;
    const sink = collecting();
    const started = performance.now();
    const r = await fillFrom(fake, {
      afterTradeId: t[99].tradeId,
      afterTs: t[99].ts,
      beforeTradeId: t[1_600].tradeId,
      beforeTs: t[1_600].ts,
    }, sink);
    const ms = performance.now() - started;
    assert.equal(r.error, null);
    assert.equal(r.closed, true);
    assert.equal(r.recovered, 1_500);
    assert.deepEqual(sink.got.map((x) => ({ ...x, receivedAt: 0 })), t.slice(100, 1_600));
    assert.ok(sink.largestPage <= 100, "page by page");
    assert.equal(fake.rest.rateLimited, 0, "never refused");
    assert.equal(fake.rest.bans, 0);
    assert.ok(
      fake.rest.maxUnitsIn(2_000) <= 15,
      `at most 75 % of 20 in any 2 s (${fake.rest.maxUnitsIn(2_000)})`,
    );
    assert.equal(r.pages, 15, "15 full pages of 100: no request wasted");
    console.log(
      `okx backfill: 1500 trades in ${Math.round(ms)} ms (${
        Math.round(1_500 / (ms / 1000))
      } trades/s, ${r.pages} pages)`,
    );
  } finally {
    await fake.stop();
  }
});

Deno.test("okx: a gap ending at a live aggregate of 4 fills is filled up to the aggregate's first fill, never doubling its volume", async () => {
  const fake = await publishedFake(600);
  try {
    const t = fake.tape;
    // Live: trade 99, then (after a disconnect) an aggregate of fills 297..300 reported as 300.
    const seq = new MarketSequencer(okx.continuity);
    seq.seed({ tradeId: t[99].tradeId, ts: t[99].ts, id: `${t[99].ts}-${t[99].tradeId}` });
    const aggregate: RawTrade = { ...t[300], size: "1", fills: 4 };
    const a = seq.accept([aggregate]);
    assert.ok(a.gap, "a gap before the aggregate");
    assert.equal(
      a.gap.beforeTradeId,
      t[297].tradeId,
      "the gap ends before the aggregate's first fill",
    );
    const sink = collecting();
    const r = await fillFrom(fake, a.gap, sink);
    assert.equal(r.closed, true);
    assert.deepEqual(sink.got.map((x) => x.tradeId), t.slice(100, 297).map((x) => x.tradeId));
    assert.equal(gapRecordOf("okx:BTC-USDT", a.gap, "disconnect", r.recovered).missing, 0);
    // The aggregate then follows without another gap.
    seq.accept(sink.got, { bridge: true });
    const next = seq.accept([aggregate, { ...t[301] }]);
    assert.equal(next.gap, null);
    assert.deepEqual(next.trades.map((x) => x.tradeId), [t[300].tradeId, t[301].tradeId]);
  } finally {
    await fake.stop();
  }
});

Deno.test("okx: trades older than OKX keeps are not invented: the gap record counts them exactly as missing", async () => {
  const fake = await publishedFake(1_000, 216_970_876n + 400n);
  try {
    const t = fake.tape;
    const gap = {
      afterTradeId: t[99].tradeId,
      afterTs: t[99].ts,
      beforeTradeId: t[700].tradeId,
      beforeTs: t[700].ts,
    };
    const sink = collecting();
    const r = await fillFrom(fake, gap, sink);
    assert.equal(
      r.closed,
      false,
      "the first window (ids 100..199) is gone: history made no progress",
    );
    assert.equal(r.recovered, 0);
    assert.equal(gapRecordOf("okx:BTC-USDT", gap, "disconnect", r.recovered).missing, 600);
  } finally {
    await fake.stop();
  }
});
