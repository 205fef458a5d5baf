/**
 * The fake exchanges and the adapters agree on every protocol: what a fake publishes parses to
 * exactly its tape, and its REST history parses to the same trades.
 */

import assert from "node:assert/strict";
import { ADAPTERS, EXCHANGE_NAMES } from "../../lib/exchanges/registry.ts";
import { compareTradeIds, type TradeFlag } from "../../lib/trade.ts";
import { startFakeExchange } from "../support/fake_exchange.ts";
import { collect } from "./_fake_client.ts";

const N = 240;

for (const name of EXCHANGE_NAMES) {
  const adapter = ADAPTERS[name];

  Deno.test(`${name}: every trade the fake publishes parses to its tape, field by field, in order`, async () => {
    const fake = await startFakeExchange({ exchange: name, trades: N, ratePerSec: 20_000 });
    try {
      const c = await collect(adapter, fake, (c) => c.byId.size >= N);
      assert.deepEqual(c.results.flatMap((r) => r.rejects), []);
      assert.deepEqual([...c.byId.values()].map((t) => ({ ...t, receivedAt: 0 })), fake.tape);
      const ids = c.results.flatMap((r) => r.trades.map((t) => t.tradeId));
      for (let i = 1; i < ids.length; i++) {
        assert.ok(compareTradeIds(ids[i - 1], ids[i]) < 0, `order at ${i}`);
      }
      if (adapter.subscribeMessages(fake.market).length > 0) {
        assert.ok(
          c.results.some((r) => r.events.some((e) => e.kind === "subscribed")),
          "subscribed event",
        );
      }
    } finally {
      await fake.stop();
    }
  });

  if (adapter.rest) {
    Deno.test(`${name}: REST backfill after a trade returns the following trades of the tape`, async () => {
      const fake = await startFakeExchange({ exchange: name, trades: 300, ratePerSec: 50_000 });
      try {
        await collect(adapter, fake, (c) => c.byId.size >= 300);
        const after = fake.tape[99];
        const res = await fetch(fake.restUrl + adapter.rest!.pagePath(fake.market, after));
        assert.equal(res.status, 200);
        const page = adapter.rest!.parsePage(await res.text(), fake.market, 0);
        assert.deepEqual(page.rejects, []);
        const next = page.trades.filter((t) => compareTradeIds(t.tradeId, after.tradeId) > 0);
        // One page: everything left (200 trades) or, where pages are smaller (OKX: 100), a full page.
        assert.ok(next.length >= 100, `a full page (${next.length})`);
        assert.deepEqual(next, fake.tape.slice(100, 100 + next.length));
      } finally {
        await fake.stop();
      }
    });
  }
}

Deno.test("the registry names six exchanges and finds each adapter by name only", async () => {
  const { adapterFor } = await import("../../lib/exchanges/registry.ts");
  assert.deepEqual([...EXCHANGE_NAMES], [
    "binance",
    "coinbase",
    "kraken",
    "bitstamp",
    "okx",
    "bybit",
  ]);
  for (const n of EXCHANGE_NAMES) assert.equal(adapterFor(n)?.name, n);
  assert.equal(adapterFor("toString"), undefined);
  assert.equal(adapterFor("nope"), undefined);
});

/** Block, RPI, both or none, in an irregular pattern. */
const someFlags = (i: number): TradeFlag[] | undefined =>
  i % 7 === 3 ? ["block"] : i % 5 === 1 ? ["rpi"] : i % 11 === 0 ? ["block", "rpi"] : undefined;

Deno.test("bybit: the fake's BT and RPI marks parse to its tape's flags, trade by trade", async () => {
  const fake = await startFakeExchange({
    exchange: "bybit",
    trades: N,
    ratePerSec: 20_000,
    tradeFlags: someFlags,
  });
  try {
    const c = await collect(ADAPTERS.bybit, fake, (c) => c.byId.size >= N);
    assert.deepEqual([...c.byId.values()].map((t) => ({ ...t, receivedAt: 0 })), fake.tape);
    const flags = fake.tape.map((t) => t.flags?.join(",") ?? "");
    for (const f of ["block", "rpi", "block,rpi", ""]) assert.ok(flags.includes(f), f);
  } finally {
    await fake.stop();
  }
});

Deno.test("a fake whose protocol carries no trade flags refuses to flag its tape", async () => {
  await assert.rejects(
    startFakeExchange({ exchange: "binance", trades: 1, tradeFlags: () => ["block"] }),
    /binance trades carry no flags/,
  );
});
