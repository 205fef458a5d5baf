import assert from "node:assert/strict";
import { StreamMetrics } from "../../lib/health/metrics.ts";
import type { StreamStatus } from "../../lib/runtime/status.ts";
import { NOW, status } from "./_status_fixture.ts";

/** Parses Prometheus text into `name{labels}` → value. */
function samples(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (!line || line.startsWith("#")) continue;
    const i = line.lastIndexOf(" ");
    out.set(line.slice(0, i), Number(line.slice(i + 1)));
  }
  return out;
}

Deno.test("metrics are read from the stream's status at scrape time", async () => {
  let s: StreamStatus = status();
  const m = new StreamMetrics(() => s, { now: () => NOW, version: "0.1.0" });
  let got = samples(await m.metrics());
  assert.equal(got.get('btcfeed_info{version="0.1.0"}'), 1);
  assert.equal(got.get('btcfeed_mode{mode="primary"}'), 1);
  assert.equal(got.get('btcfeed_mode{mode="failover"}'), 0);
  assert.equal(got.get("btcfeed_forced"), 0);
  assert.equal(got.get('btcfeed_writes_total{target="primary"}'), 3702);
  assert.equal(got.get('btcfeed_trades_total{market="kraken:BTC-USD"}'), 1234);
  assert.equal(got.get('btcfeed_market_last_trade_age_seconds{market="kraken:BTC-USD"}'), 4);
  assert.equal(got.get('btcfeed_market_state{market="kraken:BTC-USD",state="live"}'), 1);
  assert.equal(got.get('btcfeed_redis_up{target="failover"}'), 1);

  s = status({ mode: "failover", forced: true, sync: null });
  s.counters.failovers = 2;
  s.counters.writtenFailover = 40;
  s.counters.outboxAppended = 41;
  s.counters.dropped = 3;
  s.outbox = {
    depth: 41,
    bytes: 4096,
    maxTrades: 100,
    full: false,
    lastError: "disk full",
    deadLetters: 3,
  };
  s.markets["binance:BTC-USDT"].quarantined = { "bad-price": 2, "bad-size": 1 };
  s.markets["binance:BTC-USDT"].reconnects = 5;
  s.markets["binance:BTC-USDT"].gaps = 2;
  s.markets["binance:BTC-USDT"].gapsBackfilled = 1;
  s.markets["binance:BTC-USDT"].state = "blocked";
  s.markets["coinbase:BTC-USD"].last = null;
  s.primary.healthy = false;
  got = samples(await m.metrics());
  assert.equal(got.get('btcfeed_mode{mode="primary"}'), 0);
  assert.equal(got.get('btcfeed_mode{mode="failover"}'), 1);
  assert.equal(got.get("btcfeed_forced"), 1);
  assert.equal(got.get("btcfeed_failovers_total"), 2);
  assert.equal(got.get('btcfeed_writes_total{target="failover"}'), 40);
  assert.equal(got.get('btcfeed_writes_total{target="outbox"}'), 41);
  assert.equal(got.get("btcfeed_dropped_trades_total"), 3);
  assert.equal(got.get("btcfeed_outbox_depth"), 41);
  assert.equal(got.get("btcfeed_outbox_bytes"), 4096);
  assert.equal(got.get("btcfeed_outbox_error"), 1);
  assert.equal(got.get("btcfeed_outbox_dead_letters"), 3);
  assert.equal(got.get('btcfeed_redis_up{target="primary"}'), 0);
  assert.equal(
    got.get('btcfeed_market_quarantined_total{market="binance:BTC-USDT",reason="bad-price"}'),
    2,
  );
  assert.equal(got.get('btcfeed_market_reconnects_total{market="binance:BTC-USDT"}'), 5);
  assert.equal(got.get('btcfeed_market_gaps_total{market="binance:BTC-USDT"}'), 2);
  assert.equal(got.get('btcfeed_market_gaps_backfilled_total{market="binance:BTC-USDT"}'), 1);
  assert.equal(got.get('btcfeed_market_state{market="binance:BTC-USDT",state="blocked"}'), 1);
  assert.equal(
    got.get('btcfeed_market_last_trade_age_seconds{market="coinbase:BTC-USD"}'),
    undefined,
    "no age before the first trade",
  );
});

Deno.test("sync progress is exported while syncing and zero otherwise", async () => {
  let s = status({ mode: "syncing", sync: { total: 500, done: 120 } });
  const m = new StreamMetrics(() => s);
  let got = samples(await m.metrics());
  assert.equal(got.get("btcfeed_sync_done"), 120);
  assert.equal(got.get("btcfeed_sync_total"), 500);
  assert.equal(got.get('btcfeed_mode{mode="syncing"}'), 1);
  s = status();
  got = samples(await m.metrics());
  assert.equal(got.get("btcfeed_sync_done"), 0);
});

Deno.test("an unconfigured failover Redis exports no up metric for it", async () => {
  const s = status();
  s.failover = { url: null, healthy: false, latencyMs: null, lastError: null };
  const got = samples(await new StreamMetrics(() => s).metrics());
  assert.equal(got.get('btcfeed_redis_up{target="failover"}'), undefined);
});

Deno.test("the latency histogram counts each observation in seconds, per target", async () => {
  const m = new StreamMetrics(() => status());
  m.observeLatency("primary", 0.8);
  m.observeLatency("primary", 30);
  m.observeLatency("failover", 3);
  m.observeLatency("primary", Number.NaN);
  m.observeLatency("primary", -1);
  const got = samples(await m.metrics());
  assert.equal(got.get('btcfeed_redis_latency_seconds_count{target="primary"}'), 2);
  assert.equal(got.get('btcfeed_redis_latency_seconds_bucket{le="0.001",target="primary"}'), 1);
  assert.equal(got.get('btcfeed_redis_latency_seconds_bucket{le="0.05",target="primary"}'), 2);
  assert.ok(
    Math.abs(got.get('btcfeed_redis_latency_seconds_sum{target="primary"}')! - 0.0308) < 1e-9,
  );
  assert.equal(got.get('btcfeed_redis_latency_seconds_count{target="failover"}'), 1);
});

Deno.test("before the first status only static metrics are exported", async () => {
  const text = await new StreamMetrics(() => null, { version: "x" }).metrics();
  const got = samples(text);
  assert.equal(got.get('btcfeed_info{version="x"}'), 1);
  assert.equal(got.get("btcfeed_outbox_depth"), undefined);
  assert.equal(got.get("btcfeed_forced"), undefined);
});

Deno.test("every metric is btcfeed_-prefixed, typed, and two registries do not collide", async () => {
  const a = new StreamMetrics(() => status());
  const b = new StreamMetrics(() => status({ forced: true }));
  const text = await a.metrics();
  const names = [...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => [m[1], m[2]]);
  assert.ok(names.length >= 25);
  for (const [name, type] of names) {
    assert.match(name, /^btcfeed_[a-z_]+$/);
    if (type === "counter") assert.match(name, /_total$/);
  }
  assert.equal(samples(await b.metrics()).get("btcfeed_forced"), 1);
  assert.equal(samples(await a.metrics()).get("btcfeed_forced"), 0);
  assert.match(a.contentType, /^text\/plain; version=0\.0\.4/);
});

Deno.test("every counter in status.json reaches /metrics", async () => {
  const s = status();
  const names = Object.keys(s.counters) as (keyof StreamStatus["counters"])[];
  names.forEach((k, i) => (s.counters[k] = 1000 + i));
  s.gapRecords = { written: 7, failed: 8, unstored: 9 };
  const m = s.markets["kraken:BTC-USD"];
  Object.assign(m, { handovers: 11, duplicates: 12, clockAdjusted: 13, reconnects: 14 });
  Object.assign(m, { gaps: 15, gapsBackfilled: 16, trades: 17, quarantined: { bad_price: 18 } });
  const got = samples(await new StreamMetrics(() => s, { now: () => NOW }).metrics());
  const values = new Set(got.values());
  for (const [i, k] of names.entries()) assert.ok(values.has(1000 + i), `counters.${k}`);
  for (const [outcome, v] of Object.entries(s.gapRecords)) {
    assert.equal(got.get(`btcfeed_gap_records_total{outcome="${outcome}"}`), v, outcome);
  }
  const perMarket = [
    ["handovers", 11],
    ["duplicates", 12],
    ["clock_adjusted", 13],
    ["reconnects", 14],
    ["gaps", 15],
    ["gaps_backfilled", 16],
  ] as const;
  for (const [name, v] of perMarket) {
    assert.equal(got.get(`btcfeed_market_${name}_total{market="kraken:BTC-USD"}`), v, name);
  }
  assert.equal(got.get('btcfeed_trades_total{market="kraken:BTC-USD"}'), 17);
  assert.equal(
    got.get('btcfeed_market_quarantined_total{market="kraken:BTC-USD",reason="bad_price"}'),
    18,
  );
  assert.equal(got.get("btcfeed_mirror_dropped_total"), s.counters.mirrorDropped);
  assert.equal(got.get("btcfeed_outlier_events_total"), s.counters.outlierEvents);
});

Deno.test("the reason the primary takes no writes is exported, one reason at a time", async () => {
  const s = status({ mode: "failover" });
  s.primary = { ...s.primary, healthy: false, lastError: "x: out of memory", reason: "oom" };
  let got = samples(await new StreamMetrics(() => s).metrics());
  assert.equal(got.get('btcfeed_primary_write_failure{reason="oom"}'), 1);
  assert.equal(got.get('btcfeed_primary_write_failure{reason="readonly"}'), 0);
  s.primary = { ...s.primary, healthy: true, lastError: null, reason: null };
  got = samples(await new StreamMetrics(() => s).metrics());
  assert.equal(got.get('btcfeed_primary_write_failure{reason="oom"}'), 0);
});
