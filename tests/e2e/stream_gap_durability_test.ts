/**
 * A gap record found while the primary is down is not lost: it waits durably in the data
 * directory (even through a `kill -9` of the stream) and reaches `P:{<market>}:gaps` once the
 * primary answers again.
 */

import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { waitFor } from "../support/cli.ts";
import { startProxy } from "../support/tcp_proxy.ts";
import { GapStore } from "../../lib/store/gap_store.ts";
import { assertFullTape, gapEntries, tradeCount, withEnv } from "./_harness.ts";

const START_ID = 7_000_000;

Deno.test("a gap found while the primary refuses connections reaches the primary after it returns, even across a kill -9 of the stream", async () => {
  await withEnv([{
    exchange: "binance",
    trades: 3_000,
    ratePerSec: 1_000,
    startTradeId: START_ID,
    skipIds: [START_ID + 1_500, START_ID + 1_519],
    startMicros: Date.now() * 1000,
  }], async (env) => {
    const fake = env.fakes[0];
    const market = fake.tape[0].market;
    const proxy = await startProxy({ hostname: "127.0.0.1", port: env.redis.port });
    try {
      const args = ["--hold-down-ms", "300"];
      const first = env.startStream(args, proxy.url());
      await waitFor(async () => (await tradeCount(env.client, market)) >= 300, 20_000, "trades");
      await proxy.mode("refuse");
      await waitFor(() => env.status()?.markets[market]?.gapsBackfilled === 1, 20_000, "the gap");
      await waitFor(() => env.status()?.mode === "failover", 5_000, "failover mode");
      assertEquals(await gapEntries(env.client, market), [], "nothing reached the primary yet");

      first.kill("SIGKILL");
      await first.status;
      const store = GapStore.open(env.dataDir);
      const stored = store.peek(10);
      store.close();
      assertEquals(stored.map((s) => [s.gap.market, s.gap.reason, s.gap.missing]), [
        [market, "id_gap", 0],
      ]);

      await proxy.mode("pass");
      env.startStream(args, proxy.url());
      const gaps = await waitFor(
        async () => {
          const g = await gapEntries(env.client, market);
          return g.length ? g : null;
        },
        20_000,
        "the gap record on the primary",
      );
      assertEquals([gaps[0].id, gaps[0].reason, gaps[0].recovered, gaps[0].missing], [
        stored[0].entryId,
        "id_gap",
        "20",
        "0",
      ]);
      assertEquals(gaps[0].after_trade_id, String(START_ID + 1_499));
      assertEquals(gaps[0].before_trade_id, String(START_ID + 1_520));
      // Trades in flight when the stream was killed are a restart gap of their own, recovered.
      for (const g of gaps.slice(1)) assertEquals([g.reason, g.missing], ["disconnect", "0"]);

      // And no trade was lost either: the outbox carried them through the kill.
      await fake.done;
      await waitFor(async () => (await tradeCount(env.client, market)) >= 3_000, 30_000, "all");
      await assertFullTape(env.client, fake);
      const store2 = GapStore.open(env.dataDir);
      assertEquals(store2.depth(), 0, "acknowledged records leave the local store");
      store2.close();
    } finally {
      await env.stream?.stop();
      await proxy.stop();
    }
  });
});
