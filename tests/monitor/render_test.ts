import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { type MonitorSnapshot, render } from "../../lib/monitor/render.ts";
import type { StreamStatus } from "../../lib/runtime/status.ts";
import { market, NOW, status } from "../health/_status_fixture.ts";

const SNAPSHOTS = fileURLToPath(new URL("./__snapshots__/", import.meta.url));
const UPDATE = Deno.env.get("UPDATE_SNAPSHOTS") === "1";
const DIR = "/var/lib/btcfeed";
// deno-lint-ignore no-control-regex
const ANSI = /\x1b\[[0-9;]*m/g;

function snap(s: StreamStatus | null, over: Partial<MonitorSnapshot> = {}): MonitorSnapshot {
  return { status: s, nowMs: NOW, dataDir: DIR, error: null, ...over };
}

/** Compares with the committed expected screen; `UPDATE_SNAPSHOTS=1` rewrites it. */
function assertScreen(name: string, actual: string) {
  const path = `${SNAPSHOTS}${name}.txt`;
  if (UPDATE) {
    Deno.mkdirSync(SNAPSHOTS, { recursive: true });
    Deno.writeTextFileSync(path, actual + "\n");
    return;
  }
  assert.equal(actual + "\n", Deno.readTextFileSync(path), `screen ${name} changed`);
}

function assertFits(screen: string, width: number, height: number) {
  const lines = screen.split("\n");
  assert.ok(lines.length <= height, `${lines.length} lines > ${height}`);
  for (const line of lines) {
    const visible = [...line.replace(ANSI, "")].length;
    assert.ok(visible <= width, `${visible} > ${width}: ${JSON.stringify(line)}`);
  }
}

function failoverStatus(): StreamStatus {
  const s = status({
    mode: "failover",
    forced: false,
    transitions: [
      {
        at: NOW - 95_000,
        from: "primary",
        to: "failover",
        reason: "primary write missed its 500 ms deadline",
      },
    ],
  });
  s.primary = { ...s.primary, healthy: false, latencyMs: null, lastError: "connection refused" };
  s.counters = { ...s.counters, writtenFailover: 1520, outboxAppended: 1520, failovers: 1 };
  s.outbox = { ...s.outbox, depth: 1520, bytes: 2_400_000 };
  s.markets["kraken:BTC-USD"] = market("117248.9", 75_000, {
    state: "down",
    reconnects: 3,
    gaps: 2,
    gapsBackfilled: 1,
    lastError: "no message for 30 s",
  });
  s.markets["binance:BTC-USDT"].quarantined = { "bad-price": 2 };
  return s;
}

function syncingStatus(): StreamStatus {
  const s = status({
    mode: "syncing",
    forced: false,
    sync: { total: 1520, done: 600 },
    transitions: [
      { at: NOW - 95_000, from: "primary", to: "failover", reason: "primary unreachable" },
      { at: NOW - 12_000, from: "failover", to: "syncing", reason: "primary healthy for 3000 ms" },
    ],
  });
  s.outbox = { ...s.outbox, depth: 920, bytes: 1_450_000 };
  return s;
}

Deno.test("the dashboard of a stream on the primary matches the committed screen", () => {
  assertScreen("primary", render(snap(status()), { width: 80, height: 24, color: false }));
});

Deno.test("the failover screen shows the mode, the down primary, the outbox and the transition", () => {
  const screen = render(snap(failoverStatus()), { width: 80, height: 24, color: false });
  assertScreen("failover", screen);
  assert.match(screen, /^btcfeed {2}FAILOVER {2}pid 4242/);
  assert.match(screen, /primary +✗ down .*connection refused/);
  assert.match(screen, /outbox +1,520 trades \(2\.3 MB\)/);
  assert.match(screen, /95s ago {2}primary → failover {2}primary write missed/);
  assert.match(screen, /! kraken:BTC-USD down: no message for 30 s/);
  assert.match(screen, /! kraken:BTC-USD no trade for 75s/);
});

Deno.test("the syncing screen shows replay progress and the forced flag", () => {
  const s = syncingStatus();
  s.forced = true;
  const screen = render(snap(s), { width: 80, height: 24, color: false });
  assertScreen("syncing", screen);
  assert.match(screen, /SYNCING FORCED/);
  assert.match(screen, /sync 600\/1,520 \[█████░░░░░░░\] 39%/);
});

Deno.test("without a stream the screen says so and why", () => {
  const none = render(snap(null), { width: 80, height: 24, color: false });
  assertScreen("no_stream", none);
  assert.match(none, /No stream running \(no status in \/var\/lib\/btcfeed\)/);
  const stale = render(snap(status({ heartbeatAt: NOW - 42_000, mode: "failover" })), {
    width: 80,
    height: 24,
    color: false,
  });
  assertScreen("stale_heartbeat", stale);
  assert.match(stale, /No stream running \(heartbeat 42s old, pid 4242\)/);
  assert.match(stale, /last seen: mode failover/);
  const broken = render(snap(null, { error: "Is a directory (os error 21)" }), {
    width: 80,
    height: 24,
    color: false,
  });
  assert.match(broken, /cannot read the status: Is a directory/);
});

Deno.test("every screen fits its terminal, however many markets and however long the errors", () => {
  const crowded = failoverStatus();
  for (let i = 0; i < 40; i++) {
    crowded.markets[`exchange${i}:BTC-VERYLONGQUOTE${i}`] = market("117250.123456789", i * 9_000, {
      state: i % 4 === 0 ? "blocked" : "live",
      outlier: i % 5 === 0,
      lastError: `HTTP 451 ${"restricted location ".repeat(10)}`,
      quarantined: { a: i, b: 1 },
    });
  }
  crowded.transitions = Array.from({ length: 20 }, (_, i) => ({
    at: NOW - i * 1000,
    from: "primary" as const,
    to: "failover" as const,
    reason: "x".repeat(200),
  }));
  const sizes = [[80, 24], [40, 10], [200, 60], [120, 30], [20, 3], [81, 25]];
  for (const s of [status(), failoverStatus(), syncingStatus(), crowded, null]) {
    for (const [width, height] of sizes) {
      for (const color of [false, true]) {
        assertFits(render(snap(s), { width, height, color }), width, height);
      }
    }
  }
  const screen = render(snap(crowded), { width: 80, height: 24, color: false });
  assert.equal(screen.split("\n").length, 24);
  assert.match(screen, /… \d+ more/);
});

Deno.test("colour is only escape codes: without them the screen is the plain one", () => {
  for (const s of [status(), failoverStatus(), syncingStatus(), null]) {
    const plain = render(snap(s), { width: 80, height: 24, color: false });
    const colored = render(snap(s), { width: 80, height: 24, color: true });
    assert.ok(!plain.includes("\x1b["));
    assert.ok(colored.includes("\x1b["));
    assert.equal(colored.replace(ANSI, ""), plain);
  }
});

Deno.test("prices are the exchange's text; only trailing zeros go when it is too wide", () => {
  const s = status();
  s.markets["kraken:BTC-USD"] = market("117248.90000", 1_000);
  s.markets["binance:BTC-USDT"] = market("117250.10000000", 1_000);
  s.markets["coinbase:BTC-USD"] = market("99999999999999999.5", 1_000);
  const screen = render(snap(s), { width: 80, height: 24, color: false });
  assert.match(screen, / 117248\.90000 /);
  assert.match(screen, / 117250\.1 /);
  assert.match(screen, / 999999999999…/, "never a different number, only a cut one");
});

Deno.test("a wider terminal gets a longer price sparkline", () => {
  const line = (width: number) =>
    render(snap(status()), { width, height: 24, color: false }).split("\n")
      .find((l) => l.includes("binance:BTC-USDT"))!;
  const blocks = (l: string) => [...l].filter((c) => "▁▂▃▄▅▆▇█".includes(c)).length;
  assert.equal(blocks(line(80)), 12);
  assert.equal(blocks(line(120)), 24, "all 24 history points");
});
