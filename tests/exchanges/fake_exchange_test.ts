/** The fake exchange's fault and timing controls behave as the tests that rely on them assume. */

import assert from "node:assert/strict";
import { ADAPTERS } from "../../lib/exchanges/registry.ts";
import { startFakeExchange } from "../support/fake_exchange.ts";
import { collect } from "./_fake_client.ts";

const delay = (ms: number) => new Promise((r) => setTimeout(r, ms));

Deno.test("fake: with pauseWhileDisconnected off the tape runs on the clock and a late client misses trades", async () => {
  const fake = await startFakeExchange({
    exchange: "okx",
    trades: 4_000,
    ratePerSec: 4000,
    pauseWhileDisconnected: false,
  });
  try {
    await delay(50);
    assert.ok(fake.sent() > 0, "published with nobody connected");
    const c = await collect(ADAPTERS.okx, fake, () => false, 1_500);
    await fake.done;
    assert.equal(fake.sent(), 4_000);
    const first = fake.tape.findIndex((t) => c.byId.has(t.tradeId));
    assert.ok(first > 0, "the first trades were missed");
    assert.deepEqual(
      [...c.byId.values()].map((t) => ({ ...t, receivedAt: 0 })),
      fake.tape.slice(first, first + c.byId.size),
    );
  } finally {
    await fake.stop();
  }
});

Deno.test("fake: with pauseWhileDisconnected on nothing is published until a client subscribes", async () => {
  const fake = await startFakeExchange({ exchange: "coinbase", trades: 50, ratePerSec: 20_000 });
  try {
    await delay(50);
    assert.equal(fake.sent(), 0);
    const c = await collect(ADAPTERS.coinbase, fake, (c) => c.byId.size >= 50);
    await fake.done;
    assert.equal(c.byId.size, 50);
  } finally {
    await fake.stop();
  }
});

Deno.test("fake: silentAfter hangs the open connection (no trades, no heartbeats); a new one gets the rest", async () => {
  const fake = await startFakeExchange({
    exchange: "kraken",
    trades: 40,
    ratePerSec: 20_000,
    silentAfter: 15,
  });
  try {
    const hung = await collect(ADAPTERS.kraken, fake, () => false, 1500);
    assert.equal(hung.closeCode, undefined, "still open when we gave up");
    assert.equal(hung.byId.size, 15);
    const lastTrade = hung.results.findLastIndex((r) => r.trades.length > 0);
    assert.deepEqual(
      hung.results.slice(lastTrade + 1).flatMap((r) => r.events),
      [],
      "no heartbeat after silence",
    );
    const next = await collect(ADAPTERS.kraken, fake, (c) => c.byId.has(fake.tape[39].tradeId));
    assert.ok(next.byId.has(fake.tape[15].tradeId));
  } finally {
    await fake.stop();
  }
});

Deno.test("fake: sendRaw reaches clients as is and a 403 block refuses the upgrade", async () => {
  const fake = await startFakeExchange({ exchange: "bybit", trades: 0 });
  const blocked = await startFakeExchange({ exchange: "bybit", trades: 1, blockStatus: 403 });
  try {
    const got: string[] = [];
    const ws = new WebSocket(ADAPTERS.bybit.connectUrl(fake.wsUrl, fake.market));
    ws.onmessage = (e) => got.push(String(e.data));
    await new Promise((r) => (ws.onopen = r));
    fake.sendRaw(`{"topic":"publicTrade.BTCUSDT","data":[{"T":1`);
    await delay(50);
    assert.deepEqual(got, [`{"topic":"publicTrade.BTCUSDT","data":[{"T":1`]);
    const closed = new Promise((r) => (ws.onclose = r));
    fake.dropAll();
    await closed;
    assert.equal((await fetch(blocked.restUrl + "/v5/market/recent-trade")).status, 403);
    const err = await new Promise<string>((resolve) => {
      const b = new WebSocket(blocked.wsUrl);
      b.onerror = (e) => resolve((e as ErrorEvent).message);
    });
    assert.match(err, /403/);
  } finally {
    await fake.stop();
    await blocked.stop();
  }
});
