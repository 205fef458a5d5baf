/**
 * `kill -9` of `btcfeed stream` at random moments (before, during and after journal commits)
 * loses nothing and duplicates nothing: every committed trade is in the journal, what was only
 * buffered never counted and is recovered by the restart's gap check and REST backfill — even
 * with the primary slow to answer on restart, since the restart seeds from the journal alone.
 */

import { waitFor } from "../support/cli.ts";
import { startProxy } from "../support/tcp_proxy.ts";
import { seededRandom } from "../support/rng.ts";
import { assertFullTape, tradeCount, withEnv } from "./_harness.ts";

const TRADES = 6_000;

Deno.test("kill -9 of the stream at random moments, primary slow on restart: every trade of the tape on the primary exactly once, in order", async () => {
  await withEnv([{
    exchange: "binance",
    trades: TRADES,
    ratePerSec: 1_000,
    startMicros: Date.now() * 1000,
  }], async (env) => {
    const market = env.fakes[0].tape[0].market;
    const proxy = await startProxy({ hostname: "127.0.0.1", port: env.redis.port });
    const random = seededRandom(Number(Deno.env.get("BTCFEED_TEST_SEED") ?? Date.now() % 1e6));
    const args = ["--hold-down-ms", "300"];
    try {
      for (let round = 0; round < 4; round++) {
        // Odd rounds: the primary is slower than the deadline while the stream starts (a read of
        // its newest trade would time out), then slow but usable.
        proxy.latency(round % 2 ? 700 : 0, 20);
        const t0 = Date.now();
        const stream = env.startStream(args, proxy.url());
        await stream.waitForLine(/stream started/);
        proxy.latency(round % 2 ? 80 : 0, 20);
        await waitFor(
          () => {
            const s = env.status();
            return s && s.startedAt >= t0 && s.counters.tradesReceived > 0;
          },
          20_000,
          "trades received by this run",
        );
        await new Promise((r) => setTimeout(r, 100 + random() * 700));
        stream.kill("SIGKILL");
        await stream.status;
      }
      proxy.latency(80, 20);
      env.startStream(args, proxy.url());
      await waitFor(
        async () => {
          const s = env.status();
          return s?.mode === "primary" && s.outbox.depth === 0 &&
            (await tradeCount(env.client, market)) >= TRADES;
        },
        60_000,
        `all ${TRADES} trades on the primary`,
      );
      proxy.latency(0);
      await assertFullTape(env.client, env.fakes[0]);
    } finally {
      await proxy.stop();
    }
  });
});
