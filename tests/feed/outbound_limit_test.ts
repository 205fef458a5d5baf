/**
 * Binance allows 5 incoming messages per second per connection, pings, pongs and subscribes
 * included, and drops a connection whose pong is late. The fake Binance enforces both like the
 * real one; these tests prove btcfeed's pacer keeps a connection under the limit while it
 * subscribes many streams and answers frequent pings, and that without it the fake does drop it.
 */

import assert from "node:assert/strict";
import type { ExchangeAdapter } from "../../lib/exchanges/adapter.ts";
import { binance } from "../../lib/exchanges/binance.ts";
import { Feed } from "../../lib/feed/feed.ts";
import type { Trade } from "../../lib/trade.ts";
import { type FakeExchange, startFakeExchange } from "../support/fake_exchange.ts";
import { assertExactlyTape, FAST, waitFor } from "./_harness.ts";

const OTHER_STREAMS = [
  "eth",
  "bnb",
  "sol",
  "xrp",
  "ada",
  "doge",
  "trx",
  "ltc",
  "link",
  "dot",
  "avax",
  "atom",
  "uni",
  "etc",
];

/** Binance over `/ws` with one SUBSCRIBE request per stream: ours comes last. */
function subscribingBinance(limited: boolean): ExchangeAdapter {
  const a: ExchangeAdapter = {
    ...binance,
    connectUrl: (base: string) => `${base.replace(/\/+$/, "")}/ws`,
    subscribeMessages: () =>
      [...OTHER_STREAMS.map((s) => `${s}usdt@trade`), "btcusdt@trade"].map((s, i) =>
        JSON.stringify({ method: "SUBSCRIBE", params: [s], id: i + 1 })
      ),
  };
  if (!limited) delete a.outboundLimit;
  return a;
}

function feedWith(adapter: ExchangeAdapter, fake: FakeExchange) {
  const got: Trade[] = [];
  const feed = new Feed({
    markets: [{ market: fake.market, adapter, wsUrl: fake.wsUrl, restUrl: fake.restUrl }],
    onTrades: (t) => void got.push(...t),
    onGap: () => {},
    connection: { ...FAST, staleAfterMs: 10_000 },
  });
  return { feed, got };
}

/** A fake Binance pinging every 300 ms (pong due in 1.5 s) and a feed on it, for `body`. */
async function withPingingFake(
  limited: boolean,
  body: (fake: FakeExchange, got: Trade[]) => Promise<void>,
) {
  const fake = await startFakeExchange({
    exchange: "binance",
    trades: 3_000,
    ratePerSec: 1_500,
    wsRules: { pingMs: 300, pongTimeoutMs: 1_500 },
  });
  const { feed, got } = feedWith(subscribingBinance(limited), fake);
  try {
    feed.start();
    await body(fake, got);
  } finally {
    await feed.close();
    await fake.stop();
  }
}

Deno.test("15 subscribes and a server ping every 300 ms stay under Binance's 5 messages/s: no drop, every pong in time, every trade", async () => {
  await withPingingFake(true, async (fake, got) => {
    await waitFor(() => got.length >= 3_000, "all trades", 15_000);
    assertExactlyTape(got, fake.tape);
    assert.equal(fake.ws.limitDrops, 0, "never over 5 messages/s");
    assert.equal(fake.ws.pongDrops, 0, "no pong too late");
    assert.ok(fake.ws.maxInWindow <= 5, `at most 5 in a second (saw ${fake.ws.maxInWindow})`);
    assert.equal(fake.connections, 1, "one connection throughout");
    assert.ok(fake.ws.pongs >= 3, `pings were answered (${fake.ws.pongs} pongs)`);
    assert.ok(fake.ws.maxPongDelayMs < 1_500, `pong delay ${fake.ws.maxPongDelayMs} ms`);
    assert.ok(fake.ws.messages >= 15 + 3, "the subscribes went out too");
  });
});

Deno.test("control: the same connection without the pacer is dropped by the fake Binance for exceeding 5 messages/s", async () => {
  await withPingingFake(false, async (fake) => {
    await waitFor(() => fake.ws.limitDrops >= 1, "a drop for the message limit");
    assert.ok(fake.ws.maxInWindow > 5);
  });
});

Deno.test("a Binance connection whose pongs never come is dropped by the fake after the deadline (the fake's pong rule can fail)", async () => {
  const fake = await startFakeExchange({
    exchange: "binance",
    trades: 100_000,
    ratePerSec: 200,
    wsRules: { pingMs: 100, pongTimeoutMs: 300 },
  });
  // A raw client that does not answer pings (autoPong off, no handler).
  const { default: WebSocket } = await import("ws");
  const ws = new WebSocket(`${fake.wsUrl}/ws/btcusdt@trade`, { autoPong: false });
  try {
    await waitFor(() => fake.ws.pongDrops >= 1, "a drop for a late pong", 5_000);
  } finally {
    ws.terminate();
    await fake.stop();
  }
});
