import assert from "node:assert/strict";
import { report, unknownReport } from "../../lib/health/report.ts";
import { inputFromStatus } from "../../lib/health/from_status.ts";
import type { HealthInput, HealthReport } from "../../lib/health/types.ts";
import { NAGIOS_MAX_BYTES } from "../../lib/health/types.ts";
import type { StreamStatus } from "../../lib/runtime/status.ts";
import { market, NOW, status } from "./_status_fixture.ts";

const NAGIOS_LINE = /^BTCFEED (OK|WARNING|CRITICAL|UNKNOWN) - [^|\n]*( \| [^|\n]*)?$/;
const ok = (latencyMs = 0.5) => ({ ok: true, latencyMs, error: null });
const down = (error = "connect ECONNREFUSED 127.0.0.1:6390") => ({
  ok: false,
  latencyMs: null,
  error,
});

function input(over: Partial<HealthInput> = {}, s: StreamStatus | null = status()): HealthInput {
  return {
    status: s,
    dataDir: "/var/lib/btcfeed",
    nowMs: NOW,
    probes: { primary: ok(), failover: ok(0.3) },
    marketAges: {
      "binance:BTC-USDT": { ageSeconds: 1, source: "primary" },
      "coinbase:BTC-USD": { ageSeconds: 2.5, source: "primary" },
      "kraken:BTC-USD": { ageSeconds: 4, source: "primary" },
    },
    outbox: { depth: 0, bytes: 0, maxTrades: 10_000_000, full: false, deadLetters: 0, error: null },
    maxAgeSeconds: 60,
    heartbeatMaxAgeSeconds: 10,
    version: "0.1.0",
    ...over,
  };
}

/** Asserts the overall verdict and that every output form agrees with it. */
function assertVerdict(r: HealthReport, status: string, exitCode: number) {
  assert.equal(r.status, status);
  assert.equal(r.document.status, status);
  assert.equal(r.exitCode, exitCode);
  assert.match(r.nagios, NAGIOS_LINE);
  const word = ["OK", "WARNING", "CRITICAL", "UNKNOWN"][exitCode];
  assert.ok(r.nagios.startsWith(`BTCFEED ${word} - `), r.nagios);
  assert.ok(new TextEncoder().encode(r.nagios).length <= NAGIOS_MAX_BYTES);
  assert.ok(!r.table.includes("\x1b["), "table has no colour codes");
}

function check(r: HealthReport, key: string) {
  const list = r.document.checks[key];
  assert.ok(list, `check ${key} present in ${Object.keys(r.document.checks).join(", ")}`);
  assert.equal(list.length, 1);
  return list[0];
}

Deno.test("a running stream on the primary with fresh markets passes with exit 0", () => {
  const r = report(input());
  assertVerdict(r, "pass", 0);
  assert.match(r.nagios, /^BTCFEED OK - primary mode, 3 markets fresh, primary 0.5 ms \| /);
  assert.equal(r.document.output, undefined, "no output on pass");
  assert.equal(r.document.mode, "primary");
  assert.equal(r.document.forced, false);
  assert.equal(r.document.heartbeatAge, 0.4);
  assert.equal(r.document.version, "0.1.0");
});

Deno.test("the health+json document carries the contract's checks and fields", () => {
  const r = report(input());
  const keys = Object.keys(r.document.checks);
  for (
    const key of [
      "stream:heartbeat",
      "stream:mode",
      "redis-primary:responseTime",
      "redis-failover:responseTime",
      "outbox:depth",
      "feed-binance:BTC-USDT:age",
      "feed-coinbase:BTC-USD:age",
      "feed-kraken:BTC-USD:age",
    ]
  ) assert.ok(keys.includes(key), key);
  for (const [key, list] of Object.entries(r.document.checks)) {
    assert.match(key, /^[a-z-]+(:[A-Za-z0-9-]+)?:[A-Za-z]+$/);
    for (const c of list) {
      assert.ok(["component", "datastore", "system"].includes(c.componentType), key);
      assert.ok("observedValue" in c, key);
      assert.ok(["pass", "warn", "fail"].includes(c.status), key);
      assert.equal(c.time, "2025-01-15T12:00:00.000Z");
      assert.equal(typeof c.output, "string");
    }
  }
  assert.deepEqual(
    { ...check(r, "redis-primary:responseTime"), output: undefined },
    {
      componentType: "datastore",
      observedValue: 0.5,
      observedUnit: "ms",
      status: "pass",
      time: "2025-01-15T12:00:00.000Z",
      output: undefined,
    },
  );
  assert.equal(check(r, "feed-kraken:BTC-USD:age").observedValue, 4);
  assert.equal(check(r, "feed-kraken:BTC-USD:age").observedUnit, "s");
  assert.equal(check(r, "outbox:depth").observedUnit, "trades");
  // The document is plain JSON: it survives a round trip unchanged.
  assert.deepEqual(JSON.parse(JSON.stringify(r.document)), r.document);
});

Deno.test("forced failover warns with exit 1 and says it is forced", () => {
  const r = report(input({}, status({ mode: "failover", forced: true })));
  assertVerdict(r, "warn", 1);
  assert.equal(r.document.forced, true);
  assert.equal(r.document.mode, "failover");
  assert.match(r.nagios, /^BTCFEED WARNING - failover mode \(forced/);
  assert.equal(check(r, "stream:mode").status, "warn");
});

Deno.test("automatic failover with the primary down warns, it does not fail", () => {
  const r = report(
    input({ probes: { primary: down(), failover: ok() } }, status({ mode: "failover" })),
  );
  assertVerdict(r, "warn", 1);
  assert.match(r.document.output!, /primary unreachable: connect ECONNREFUSED/);
  assert.equal(check(r, "redis-primary:responseTime").observedValue, null);
});

Deno.test("a primary that stops answering warns even before the stream notices", () => {
  const r = report(input({ probes: { primary: down("no answer within 400 ms"), failover: ok() } }));
  assertVerdict(r, "warn", 1);
  assert.match(r.nagios, /primary unreachable: no answer within 400 ms/);
});

Deno.test("syncing warns and reports replay progress", () => {
  const r = report(input({}, status({ mode: "syncing", sync: { total: 5000, done: 1234 } })));
  assertVerdict(r, "warn", 1);
  const sync = check(r, "sync:progress");
  assert.equal(sync.observedValue, 1234);
  assert.match(sync.output, /1,234 of 5,000/);
});

Deno.test("an unreachable failover Redis warns; an unconfigured one passes", () => {
  const r = report(input({ probes: { primary: ok(), failover: down() } }));
  assertVerdict(r, "warn", 1);
  assert.match(r.document.output!, /^failover unreachable/);
  const none = report(input({ probes: { primary: ok(), failover: null } }));
  assertVerdict(none, "pass", 0);
  assert.match(check(none, "redis-failover:responseTime").output, /not configured/);
});

Deno.test("a market older than --max-age warns; exactly at the limit still passes", () => {
  const ages = (age: number) => ({
    ...input().marketAges,
    "kraken:BTC-USD": { ageSeconds: age, source: "primary" as const },
  });
  assertVerdict(report(input({ marketAges: ages(60) })), "pass", 0);
  const stale = report(input({ marketAges: ages(75) }));
  assertVerdict(stale, "warn", 1);
  assert.match(stale.nagios, /kraken:BTC-USD: latest trade 75 s old \(over 60 s\)/);
  assert.equal(check(stale, "feed-kraken:BTC-USD:age").status, "warn");
  assertVerdict(report(input({ marketAges: ages(75), maxAgeSeconds: 120 })), "pass", 0);
});

Deno.test("a market's age in Redis wins over the stream's own view, so lost writes show", () => {
  // The status says every market is fresh, but the primary's last trade is old.
  const r = report(input({
    marketAges: { "binance:BTC-USDT": { ageSeconds: 300, source: "primary" } },
  }));
  assertVerdict(r, "warn", 1);
  assert.match(check(r, "feed-binance:BTC-USDT:age").output, /read from primary/);
  assert.equal(check(r, "feed-coinbase:BTC-USD:age").status, "pass", "falls back to status");
});

Deno.test("a market with no trade yet warns", () => {
  const r = report(input({
    marketAges: { "binance:BTC-USDT": { ageSeconds: null, source: "primary" } },
  }));
  assertVerdict(r, "warn", 1);
  assert.match(r.document.output!, /binance:BTC-USDT: no trade yet/);
});

Deno.test("a market blocked by its exchange warns with the exchange's message", () => {
  const s = status();
  s.markets["binance:BTC-USDT"] = market("117250.10", 90_000, {
    state: "blocked",
    lastError: "HTTP 451: service unavailable from a restricted location",
  });
  const r = report(input({ marketAges: {} }, s));
  assertVerdict(r, "warn", 1);
  assert.match(r.document.output!, /blocked by the exchange: HTTP 451/);
  assert.equal(check(r, "feed-binance:BTC-USDT:state").observedValue, "blocked");
});

Deno.test("an outlier market warns", () => {
  const s = status();
  s.markets["kraken:BTC-USD"] = market("118900", 1_000, { outlier: true });
  const r = report(input({}, s));
  assertVerdict(r, "warn", 1);
  assert.match(r.document.output!, /kraken:BTC-USD: price strays/);
});

Deno.test("dead-lettered outbox rows and dropped trades warn", () => {
  const dead = report(input({ outbox: { ...input().outbox!, deadLetters: 3 } }));
  assertVerdict(dead, "warn", 1);
  assert.equal(check(dead, "outbox:deadLetters").observedValue, 3);
  const s = status();
  s.counters.dropped = 17;
  const dropped = report(input({}, s));
  assertVerdict(dropped, "warn", 1);
  assert.match(dropped.document.output!, /17 trades dropped/);
});

Deno.test("no status in the data directory fails: no stream is running", () => {
  const r = report(input({ marketAges: {} }, null));
  assertVerdict(r, "fail", 2);
  assert.match(
    r.nagios,
    /^BTCFEED CRITICAL - stream not running: no status in \/var\/lib\/btcfeed/,
  );
  assert.equal(r.document.mode, null);
  assert.equal(r.document.heartbeatAge, null);
  assert.equal(check(r, "stream:heartbeat").status, "fail");
});

Deno.test("an old heartbeat fails; one within the bound passes", () => {
  const old = report(input({}, status({ heartbeatAt: NOW - 42_000 })));
  assertVerdict(old, "fail", 2);
  assert.match(old.nagios, /^BTCFEED CRITICAL - stream not running: heartbeat 42 s old/);
  assert.equal(old.document.heartbeatAge, 42);
  assert.equal(old.document.mode, null, "a dead stream's mode is not reported as current");
  assertVerdict(report(input({}, status({ heartbeatAt: NOW - 10_000 }))), "pass", 0);
});

Deno.test("both Redis down with room in the outbox warns: the outbox carries the outage", () => {
  const r = report(input({
    probes: { primary: down(), failover: down() },
    outbox: { ...input().outbox!, depth: 50_000, bytes: 4_500_000 },
  }, status({ mode: "failover" })));
  assertVerdict(r, "warn", 1);
  assert.match(check(r, "outbox:depth").output, /50,000 trades \(4\.3 MB\) of 10,000,000 max/);
});

Deno.test("no Redis reachable and the outbox at its limit fails", () => {
  const full = {
    depth: 1000,
    bytes: 90_000,
    maxTrades: 1000,
    full: true,
    deadLetters: 0,
    error: null,
  };
  const r = report(input({ probes: { primary: down(), failover: down() }, outbox: full }));
  assertVerdict(r, "fail", 2);
  assert.match(r.nagios, /^BTCFEED CRITICAL - outbox full: .* no Redis is reachable/);
  // At its limit the outbox drops new trades whatever else is up: still a failure.
  assertVerdict(report(input({ outbox: full })), "fail", 2);
});

Deno.test("an outbox disk error fails", () => {
  const r = report(input({ outbox: { ...input().outbox!, error: "database or disk is full" } }));
  assertVerdict(r, "fail", 2);
  assert.match(r.nagios, /outbox disk error: database or disk is full/);
});

Deno.test("without its own outbox reading, the stream's view of the outbox decides", () => {
  const s = status();
  s.outbox = { depth: 5, bytes: 500, maxTrades: 5, full: true, lastError: null, deadLetters: 0 };
  assertVerdict(report(input({ outbox: null }, s)), "fail", 2);
});

Deno.test("failures are listed before warnings in the summary", () => {
  const r = report(input(
    { probes: { primary: down(), failover: ok() } },
    status({ mode: "failover", heartbeatAt: NOW - 60_000 }),
  ));
  assertVerdict(r, "fail", 2);
  assert.match(r.document.output!, /^stream not running.*; primary unreachable/);
});

Deno.test("a check that cannot run is UNKNOWN (exit 3) and still gives a JSON document", () => {
  const r = unknownReport("cannot read /x/status.json: Is a directory", NOW, "0.1.0");
  assertVerdict(r, "fail", 3);
  assert.match(r.nagios, /^BTCFEED UNKNOWN - health check could not run: cannot read/);
  assert.equal(
    r.document.output,
    "health check could not run: cannot read /x/status.json: Is a directory",
  );
  assert.deepEqual(r.document.checks, {});
});

Deno.test("the status line stays one line within 4 KB, whatever the errors say", () => {
  const s = status();
  for (let i = 0; i < 300; i++) {
    s.markets[`binance:BTC-X${i}`] = market("1", 999_000, {
      state: "blocked",
      lastError: `line one\nline | two ${"é".repeat(40)}`,
    });
  }
  const r = report(input({ probes: { primary: down("a|b\r\nc"), failover: down() } }, s));
  assertVerdict(r, "warn", 1);
  assert.equal(r.nagios.split(" | ").length, 2, "exactly one perfdata separator");
  assert.ok(!r.nagios.includes("\n"));
});

Deno.test("perfdata carries values, units and thresholds", () => {
  const r = report(input());
  const perf = r.nagios.split(" | ")[1].split(" ");
  assert.ok(perf.includes("stream_heartbeat=0.4s;;10"), perf.join(" "));
  assert.ok(perf.includes("redis-primary_responseTime=0.5ms"));
  assert.ok(perf.includes("outbox_depth=0;;;0"));
  assert.ok(perf.includes("feed-kraken_BTC-USD_age=4s;60"));
});

Deno.test("the stream's own /health verdict comes from its status alone", () => {
  const s = status({ mode: "failover" });
  s.primary = { ...s.primary, healthy: false, latencyMs: null, lastError: "ECONNRESET" };
  s.failover = { url: null, healthy: false, latencyMs: null, lastError: null };
  const r = report(inputFromStatus(s, NOW, { version: "0.1.0" }));
  assertVerdict(r, "warn", 1);
  assert.match(r.document.output!, /primary unreachable: ECONNRESET/);
  assert.match(check(r, "redis-failover:responseTime").output, /not configured/);
  assert.equal(check(r, "feed-kraken:BTC-USD:age").observedValue, 4);
  assertVerdict(report(inputFromStatus(status(), NOW)), "pass", 0);
});

Deno.test("the stream's write verdict on the primary: refusals an operator must fix fail, a replica or LOADING warns", () => {
  const cases = [
    ["readonly", "warn", 1, /^primary is a read-only replica: /],
    ["loading", "warn", 1, /^primary is loading its dataset: /],
    ["oom", "fail", 2, /^primary out of memory: /],
    ["misconf", "fail", 2, /^primary cannot persist \(MISCONF\)/],
    ["noperm", "fail", 2, /^primary refuses btcfeed's commands \(ACL, NOPERM\): /],
    ["unreachable", "warn", 1, /^the stream cannot write to the primary: /],
  ] as const;
  for (const [reason, verdict, exitCode, output] of cases) {
    const s = status({ mode: "failover" });
    s.primary = { ...s.primary, healthy: false, lastError: `redis://h:1: ${reason}`, reason };
    const r = report(input({}, s));
    assertVerdict(r, verdict, exitCode);
    const c = check(r, "redis-primary:writes");
    assert.equal(c.observedValue, reason);
    assert.equal(c.status, verdict);
    assert.match(c.output, output);
    assert.ok(c.output.endsWith(`redis://h:1: ${reason}`), c.output);
  }
  const ok = check(report(input()), "redis-primary:writes");
  assert.deepEqual([ok.status, ok.observedValue, ok.output], [
    "pass",
    "ok",
    "the primary takes writes",
  ]);
});

Deno.test("a primary being repaired from the journal warns with exit 1 and says what it lost", () => {
  const base = status({ mode: "syncing", repairing: true });
  const s = { ...base, counters: { ...base.counters, primaryResets: 1, reconciledTrades: 2_345 } };
  const r = report(input({}, s));
  assertVerdict(r, "warn", 1);
  const c = check(r, "redis-primary:reconciliation");
  assert.equal(c.status, "warn");
  assert.equal(c.observedValue, 2_345);
  assert.match(c.output!, /lost trades it had acknowledged.*re-applying 2345 from the journal/);
  const repaired = report(input({}, status({ repairing: false })));
  assert.equal(repaired.document.checks["redis-primary:reconciliation"], undefined);
});
