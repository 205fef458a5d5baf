import assert from "node:assert/strict";
import { startFakeExchange } from "../support/fake_exchange.ts";
import { assertExactlyTape, FAST, feedFor, logged, waitFor } from "./_harness.ts";
import { log } from "../../lib/log.ts";

Deno.test("a connection that goes silent with its socket open is noticed by the stale watchdog and replaced", async () => {
  const fake = await startFakeExchange({
    exchange: "binance",
    trades: 2_000,
    ratePerSec: 10_000,
    silentAfter: 700,
  });
  const { feed, got } = feedFor([fake], { connection: { ...FAST, staleAfterMs: 250 } });
  try {
    feed.start();
    await waitFor(() => got.trades.length >= 2_000, "all trades after the silence");
    assertExactlyTape(got.trades, fake.tape);
    const s = feed.snapshot()["binance:BTC-USDT"];
    assert.ok(s.reconnects >= 1, "reconnected");
    assert.match(String(s.lastError), /stale/);
    // At least the replacement; a loaded machine's pause past 250 ms may look stale once more.
    assert.ok(fake.connections >= 2, `connections ${fake.connections}`);
  } finally {
    await feed.close();
    await fake.stop();
  }
});

for (const status of [451, 403] as const) {
  Deno.test(`HTTP ${status} at the upgrade puts the market in 'blocked' with one clear line and a slow retry, while another market streams`, async () => {
    const blocked = await startFakeExchange({
      exchange: "binance",
      trades: 10,
      blockStatus: status,
    });
    const other = await startFakeExchange({
      exchange: "binance",
      market: { base: "BTC", quote: "FDUSD" },
      trades: 2_000,
      ratePerSec: 2_000,
    });
    const { feed, got } = feedFor([blocked, other], {
      connection: { ...FAST, blockedRetryMs: 400 },
    });
    const t0 = Date.now();
    try {
      feed.start();
      await waitFor(() => feed.snapshot()["binance:BTC-USDT"].state === "blocked", "blocked");
      await waitFor(() => got.trades.length >= 2_000, "the other market's trades");
      const elapsed = Date.now() - t0;
      const snap = feed.snapshot();
      const s = snap["binance:BTC-USDT"];
      assert.equal(s.state, "blocked");
      assert.equal(
        s.lastError,
        `binance:BTC-USDT blocked (HTTP ${status}): the exchange refuses this location; ` +
          "retrying every 400 ms; other markets continue",
      );
      // A slow retry, not the 20 ms reconnect backoff: attempts bounded by elapsed / 400 ms.
      assert.ok(s.reconnects >= 2, `it retried (${s.reconnects})`);
      assert.ok(s.reconnects <= Math.floor(elapsed / 400) + 1, `${s.reconnects} in ${elapsed} ms`);
      assert.equal(logged("feed.blocked").length, s.reconnects, "one line per refused attempt");
      assert.ok(!logLinesHaveStack(), "no stack traces in the log");
      assertExactlyTape(got.byMarket("binance:BTC-FDUSD"), other.tape);
      assert.equal(got.byMarket("binance:BTC-USDT").length, 0);
      assert.equal(snap["binance:BTC-FDUSD"].state, "live");
    } finally {
      await feed.close();
      await blocked.stop();
      await other.stop();
    }
  });
}

function logLinesHaveStack(): boolean {
  return logged("feed.blocked").some((l) => JSON.stringify(l).includes("    at "));
}

Deno.test("a scheduled reconnect before the age limit overlaps old and new connections: no duplicate, no miss", async () => {
  const fake = await startFakeExchange({ exchange: "binance", trades: 4_000, ratePerSec: 2_500 });
  const { feed, got } = feedFor([fake], {
    connection: { ...FAST, maxConnectionAgeMs: 300 },
  });
  try {
    feed.start();
    await waitFor(() => got.trades.length >= 4_000, "all trades across hand-overs");
    assertExactlyTape(got.trades, fake.tape);
    const s = feed.snapshot()["binance:BTC-USDT"];
    assert.ok(s.handovers >= 2, `several hand-overs (${s.handovers})`);
    assert.equal(s.reconnects, 0, "no connection was lost");
    assert.equal(s.gaps, 0, "no gap needed backfilling: the overlap covered it");
    assert.ok(s.duplicates > 0, "the overlap was real and its duplicates were dropped");
    assert.ok(logged("feed.handover").every((l) => l.how === "overlap"));
  } finally {
    await feed.close();
    await fake.stop();
  }
});

Deno.test("Binance serverShutdown makes the feed replace its connection at once, overlapping old and new, without losing a trade", async () => {
  const fake = await startFakeExchange({
    exchange: "binance",
    trades: 2_000,
    ratePerSec: 5_000,
    maintenanceAfter: 500,
  });
  const { feed, got } = feedFor([fake]);
  try {
    feed.start();
    await waitFor(() => got.trades.length >= 2_000, "all trades");
    assertExactlyTape(got.trades, fake.tape);
    const s = feed.snapshot()["binance:BTC-USDT"];
    assert.equal(s.handovers, 1);
    assert.equal(fake.connections, 2);
    assert.equal(logged("feed.replace")[0].reason, "binance serverShutdown");
    // Overlapping: the old connection delivered until the new one proved it carries the same tape.
    assert.equal(logged("feed.handover")[0].how, "overlap");
    assert.equal(s.reconnects, 0, "no connection was lost");
  } finally {
    await feed.close();
    await fake.stop();
  }
});

Deno.test("close() while connecting to a server that never answers leaves no socket or timer behind", async () => {
  // A TCP listener that accepts and never speaks: the upgrade hangs.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accepted: Deno.Conn[] = [];
  const accepting = (async () => {
    for await (const c of listener) accepted.push(c);
  })();
  const port = (listener.addr as Deno.NetAddr).port;
  const fake = {
    market: { exchange: "binance", base: "BTC", quote: "USDT" },
    wsUrl: `ws://127.0.0.1:${port}`,
    restUrl: `http://127.0.0.1:${port}`,
  };
  const { feed } = feedFor([fake as never]);
  feed.start();
  await waitFor(() => accepted.length === 1, "the connection attempt");
  assert.equal(feed.snapshot()["binance:BTC-USDT"].state, "connecting");
  await feed.close();
  assert.equal(feed.snapshot()["binance:BTC-USDT"].state, "down");
  listener.close();
  await accepting;
  for (const c of accepted) c.close();
});

Deno.test("a replacement that cannot prove overlap (old connection silent) takes over after the hand-over timeout with every trade it held", async () => {
  const fake = await startFakeExchange({
    exchange: "binance",
    trades: 1_500,
    ratePerSec: 2_000,
    silentAfter: 100,
  });
  const { feed, got } = feedFor([fake], {
    connection: { ...FAST, staleAfterMs: 5_000, maxConnectionAgeMs: 250, handoverTimeoutMs: 150 },
  });
  try {
    feed.start();
    await waitFor(() => got.trades.length >= 1_500, "all trades");
    assertExactlyTape(got.trades, fake.tape);
    const s = feed.snapshot()["binance:BTC-USDT"];
    assert.equal(s.gaps, 0, "the held trades closed the hand-over without a gap");
    assert.equal(s.reconnects, 0);
    assert.equal(logged("feed.handover")[0].how, "timeout");
  } finally {
    await feed.close();
    await fake.stop();
  }
});

Deno.test("a refused connection is retried with growing delays (no hot loop), one debug line per attempt and only the first a warning", async () => {
  const dead = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (dead.addr as Deno.NetAddr).port;
  dead.close();
  const target = {
    market: { exchange: "binance", base: "BTC", quote: "USDT" },
    wsUrl: `ws://127.0.0.1:${port}`,
    restUrl: `http://127.0.0.1:${port}`,
  };
  const { feed } = feedFor([target as never], {
    connection: { ...FAST, backoff: { initialMs: 50, maxMs: 400 } },
  });
  // Every attempt is logged at debug; the condensed view (at info) is proven in condensed_log_test.
  log.configure({ level: "debug" });
  try {
    feed.start();
    await new Promise((r) => setTimeout(r, 1_000));
    const s = feed.snapshot()["binance:BTC-USDT"];
    // 50, 100, 200, 400, 400 ms (±30%): at most ~6 attempts in a second, never hundreds.
    assert.ok(s.reconnects >= 3 && s.reconnects <= 7, `${s.reconnects} attempts`);
    assert.ok(s.state === "down" || s.state === "connecting");
    assert.match(String(s.lastError), /refused/i);
    const lines = logged("feed.disconnected");
    assert.equal(lines.length, s.reconnects);
    const delays = lines.map((l) => Number(l.retryInMs));
    assert.ok(delays.at(-1)! > delays[0], `delays grow: ${delays}`);
    assert.ok(lines.every((l) => !String(l.error).includes("\n")), "one line each");
    assert.deepEqual(lines.map((l) => l.level), ["warn", ...lines.slice(1).map(() => "debug")]);
  } finally {
    log.configure({ level: "info" });
    await feed.close();
  }
});
