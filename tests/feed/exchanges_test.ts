import assert from "node:assert/strict";
import { EXCHANGE_NAMES } from "../../lib/exchanges/registry.ts";
import { startFakeExchange } from "../support/fake_exchange.ts";
import { FAKE_PROTOCOLS } from "../support/fake_protocols/all.ts";
import { adapter, assertExactlyTape, feedFor, waitFor } from "./_harness.ts";

for (const exchange of EXCHANGE_NAMES) {
  const a = adapter(exchange);
  const fillable = a.continuity === "contiguous" && a.rest !== undefined;
  Deno.test(
    fillable
      ? `${exchange}: across a dropped connection and a skipped id range, every trade arrives once, in order`
      : `${exchange}: across a dropped connection every trade arrives once, in order, and the disconnect window is reported`,
    async () => {
      const start = FAKE_PROTOCOLS[exchange].defaultStartTradeId;
      const fake = await startFakeExchange({
        exchange,
        trades: 2_000,
        ratePerSec: 5_000,
        dropAfter: 700,
        ...(fillable ? { skipIds: [start + 1_000n, start + 1_199n] as [bigint, bigint] } : {}),
      });
      const { feed, got } = feedFor([fake]);
      try {
        feed.start();
        await waitFor(() => got.trades.length >= 2_000, `${exchange} trades`);
        assertExactlyTape(got.trades, fake.tape);
        const s = feed.snapshot()[got.trades[0].market];
        assert.ok(s.reconnects >= 1);
        if (fillable) {
          assert.equal(got.gaps.length, 1);
          assert.equal(got.gaps[0].reason, "id_gap");
          assert.equal(got.gaps[0].recovered, 200);
          assert.equal(got.gaps[0].missing, 0);
        } else {
          assert.ok(got.gaps.length >= 1);
          assert.ok(got.gaps.every((g) => g.reason === "disconnect" && g.missing === null));
        }
      } finally {
        await feed.close();
        await fake.stop();
      }
    },
  );
}

for (const exchange of EXCHANGE_NAMES) {
  const a = adapter(exchange);
  const protocol = FAKE_PROTOCOLS[exchange];
  const market = { exchange, ...protocol.defaultMarket };
  if (!protocol.maintenance) continue; // this exchange documents no maintenance notice
  const asksReconnect = a.parse(protocol.maintenance(market), market, 0).events
    .some((e) => e.kind === "reconnect");
  Deno.test(
    `${exchange}: the exchange's maintenance notice ${
      asksReconnect ? "triggers an overlapping replacement" : "is logged"
    } and no trade is lost or doubled`,
    async () => {
      const fake = await startFakeExchange({
        exchange,
        trades: 1_500,
        ratePerSec: 5_000,
        maintenanceAfter: 500,
      });
      const { feed, got } = feedFor([fake]);
      try {
        feed.start();
        await waitFor(() => got.trades.length >= 1_500, `${exchange} trades`);
        const name = got.trades[0].market;
        // The tape may end before the replacement proved its overlap on a loaded machine.
        if (asksReconnect) await waitFor(() => feed.snapshot()[name].handovers >= 1, "hand-over");
        assertExactlyTape(got.trades, fake.tape);
        const s = feed.snapshot()[name];
        assert.equal(s.handovers, asksReconnect ? 1 : 0);
        assert.equal(s.reconnects, 0);
        assert.equal(s.gaps, 0);
      } finally {
        await feed.close();
        await fake.stop();
      }
    },
  );
}
