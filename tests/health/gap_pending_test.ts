/** A pending gap shows in health (warn naming the market), in /metrics and in the monitor. */

import assert from "node:assert/strict";
import { report } from "../../lib/health/report.ts";
import { StreamMetrics } from "../../lib/health/metrics.ts";
import { render } from "../../lib/monitor/render.ts";
import { DEFAULT_HEALTH_OPTIONS, type HealthInput } from "../../lib/health/types.ts";
import type { StreamStatus } from "../../lib/runtime/status.ts";
import { NOW, status } from "./_status_fixture.ts";

const MARKET = "binance:BTC-USDT";

function pending(remaining: number | null): StreamStatus {
  const s = status();
  s.markets[MARKET].recovering = {
    reason: "disconnect",
    startedAt: NOW - 42_000,
    afterTradeId: "100",
    recovered: 12_000,
    remaining,
    held: 350,
  };
  return s;
}

function input(s: StreamStatus): HealthInput {
  return {
    status: s,
    dataDir: "/var/lib/btcfeed",
    nowMs: NOW,
    probes: { primary: { ok: true, latencyMs: 0.5, error: null }, failover: null },
    marketAges: {},
    outbox: null,
    maxAgeSeconds: DEFAULT_HEALTH_OPTIONS.maxAgeSeconds,
    heartbeatMaxAgeSeconds: DEFAULT_HEALTH_OPTIONS.heartbeatMaxAgeSeconds,
  };
}

Deno.test("health warns while a gap is pending, naming the market and its progress; no check without one", () => {
  const r = report(input(pending(3_000)));
  const check = r.document.checks[`gap-${MARKET}:pending`][0];
  assert.equal(check.status, "warn");
  assert.equal(
    check.output,
    `${MARKET}: gap pending for 42 s (disconnect): 12,000 recovered, 3,000 to go, 350 live trades held`,
  );
  assert.equal(r.status, "warn");
  assert.match(
    report(input(pending(null))).document.checks[`gap-${MARKET}:pending`][0].output,
    /catching up/,
  );
  const none = report(input(status()));
  assert.equal(none.document.checks[`gap-${MARKET}:pending`], undefined);
});

Deno.test("/metrics exports the pending gaps, when each started, recovered, remaining (when known) and held trades per market", async () => {
  const text = await new StreamMetrics(() => pending(3_000), { now: () => NOW }).metrics();
  assert.match(text, /^btcfeed_pending_gaps 1$/m);
  assert.match(text, new RegExp(`^btcfeed_market_gap_pending\\{market="${MARKET}"\\} 1$`, "m"));
  assert.match(
    text,
    new RegExp(`^btcfeed_market_gap_recovered\\{market="${MARKET}"\\} 12000$`, "m"),
  );
  assert.match(
    text,
    new RegExp(`^btcfeed_market_gap_remaining\\{market="${MARKET}"\\} 3000$`, "m"),
  );
  assert.match(
    text,
    new RegExp(
      `^btcfeed_market_gap_start_time_seconds\\{market="${MARKET}"\\} ${(NOW - 42_000) / 1000}$`,
      "m",
    ),
  );
  assert.match(text, new RegExp(`^btcfeed_market_held_trades\\{market="${MARKET}"\\} 350$`, "m"));
  const open = await new StreamMetrics(() => pending(null), { now: () => NOW }).metrics();
  assert.doesNotMatch(open, /^btcfeed_market_gap_remaining\{/m);
  const idle = await new StreamMetrics(() => status(), { now: () => NOW }).metrics();
  assert.match(idle, /^btcfeed_pending_gaps 0$/m);
  assert.doesNotMatch(idle, /^btcfeed_market_gap_start_time_seconds\{/m, "absent without a gap");
});

Deno.test("the monitor alerts on a pending gap with its progress", () => {
  const screen = render(
    { status: pending(3_000), nowMs: NOW, dataDir: "/d", error: null },
    { width: 120, height: 50, color: false },
  );
  assert.match(screen, /! binance:BTC-USDT gap pending: 12000 recovered, 3000 to go, 350 held/);
});
