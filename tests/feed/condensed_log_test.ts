/**
 * The condensed failure log through the real connection code: a market that stays down logs
 * O(outage / interval) lines, not one per attempt, and one line when it is reachable again.
 */

import assert from "node:assert/strict";
import { startFakeExchange } from "../support/fake_exchange.ts";
import { startProxy } from "../support/tcp_proxy.ts";
import { FAST, feedFor, logLines, waitFor } from "./_harness.ts";

Deno.test("a market that stays down for many attempts logs a line per interval, not per attempt, and one line when it recovers", async () => {
  const fake = await startFakeExchange({ exchange: "binance", trades: 200, ratePerSec: 2_000 });
  const port = Number(new URL(fake.wsUrl).port);
  const proxy = await startProxy({ hostname: "127.0.0.1", port });
  await proxy.mode("refuse");
  const wsUrl = fake.wsUrl.replace(`:${port}`, `:${proxy.port}`);
  const intervalMs = 300;
  const { feed, got } = feedFor([{ ...fake, wsUrl }], {
    connection: {
      ...FAST,
      backoff: { initialMs: 10, maxMs: 20 },
      failureLogIntervalMs: intervalMs,
    },
  });
  const market = "binance:BTC-USDT";
  try {
    const t0 = Date.now();
    feed.start();
    await waitFor(() => feed.snapshot()[market].reconnects >= 60, "60 refused attempts");
    const downMs = Date.now() - t0;
    const attempts = feed.snapshot()[market].reconnects;
    const lines = logLines.map((l) => JSON.parse(l)).filter((l) => l.market === market);
    const events = lines.map((l) => l.event);
    assert.equal(events[0], "feed.disconnected", "the first failure is logged in full");
    assert.match(lines[0].error, /refused/i);
    assert.equal(events.filter((e) => e === "feed.disconnected").length, 1);
    const repeats = lines.filter((l) => l.event === "feed.still_down");
    assert.ok(repeats.length >= 1, `a market still down says so (${downMs} ms)`);
    assert.ok(
      lines.length <= 1 + Math.ceil(downMs / intervalMs),
      `${lines.length} lines for ${attempts} attempts in ${downMs} ms`,
    );
    assert.ok(lines.length * 5 < attempts, `${lines.length} lines, ${attempts} attempts`);
    for (const r of repeats) {
      assert.match(
        r.message,
        /^binance:BTC-USDT still unreachable after \d+ attempts: .*refused.*; next try in [\d.]+ s$/i,
      );
    }

    await proxy.mode("pass");
    await waitFor(() => got.trades.length >= 200, "trades after the recovery");
    const recovered = logLines.map((l) => JSON.parse(l)).filter((l) =>
      l.event === "feed.recovered"
    );
    assert.equal(recovered.length, 1, "one line when it recovers");
    assert.equal(recovered[0].level, "info");
    assert.ok(recovered[0].attempts >= attempts, `${recovered[0].attempts} attempts`);
    assert.match(
      recovered[0].message,
      /^binance:BTC-USDT reachable again after \d+ attempts \/ [\d.]+ s down$/,
    );
  } finally {
    await feed.close();
    await proxy.stop();
    await fake.stop();
  }
});
