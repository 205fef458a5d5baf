/**
 * The end-to-end benchmarks at a tiny size, so they cannot rot: each runs its real processes
 * (`btcfeed stream` / `btcfeed sync`, the direct client, redis-server, the fake exchange) and
 * fails unless every trade arrived; the figures must be plausible numbers.
 */

import assert from "node:assert/strict";
import { run as latency } from "../../bench/latency_bench.ts";
import { run as rss } from "../../bench/rss_bench.ts";
import { run as backlog } from "../../bench/backlog_bench.ts";

Deno.test("latency bench: both clients, every trade seen, p50 <= p99 <= max", async () => {
  const figures = await latency({ rates: [500], seconds: 2 });
  assert.deepEqual(figures.map((f) => f.kind), ["direct", "btcfeed"]);
  for (const f of figures) {
    assert.equal(f.trades, 500, `${f.kind}: trades counted after the warm-up second`);
    assert.ok(f.p50 > 0 && f.p50 <= f.p99 && f.p99 <= f.max, JSON.stringify(f));
    assert.ok(f.max < 10_000, `${f.kind}: max ${f.max} ms`);
  }
});

Deno.test("rss bench: both processes sampled from their first trade to the end", async () => {
  const figures = await rss({ trades: 4_000, ratePerSec: 4_000, sampleMs: 50 });
  assert.deepEqual(figures.map((f) => f.kind), ["direct", "btcfeed"]);
  for (const f of figures) {
    assert.ok(f.samples >= 2, `${f.kind}: ${f.samples} samples`);
    assert.ok(f.startMb > 5 && f.endMb > 5 && f.maxAfterWarmMb >= f.endMb, JSON.stringify(f));
    assert.ok(Math.abs(f.driftMb - (f.endMb - f.warmMb)) < 1e-9);
  }
});

Deno.test("backlog bench: btcfeed sync replays every pending trade, peak RSS sampled", async () => {
  const f = await backlog(5_000);
  assert.equal(f.trades, 5_000);
  assert.equal(f.baselineTrades, 5_000);
  assert.ok(f.replayPerSec > 0 && f.baselinePerSec > 0, JSON.stringify(f));
  assert.ok(f.peakRssMb > 20 && f.peakRssMb < 4_000, `peak RSS ${f.peakRssMb} MB`);
});
