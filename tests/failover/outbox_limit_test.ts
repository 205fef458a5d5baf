/** At the outbox limit nothing is dropped silently: counted, logged, and health fails. */

import { deepStrictEqual as assertEquals, match } from "node:assert/strict";
import { freePort } from "../support/redis_server.ts";
import { startFakeExchange } from "../support/fake_exchange.ts";
import { runCli, spawnCli, waitFor } from "../support/cli.ts";
import { readStatus } from "../../lib/runtime/status.ts";

Deno.test("with no Redis and the outbox at its limit, the newest trades are refused, counted, logged, and health is CRITICAL", async () => {
  const primary = `redis://127.0.0.1:${await freePort()}`;
  const fake = await startFakeExchange({
    exchange: "binance",
    trades: 800,
    ratePerSec: 2_000,
    startMicros: Date.now() * 1000,
  });
  const dataDir = await Deno.makeTempDir();
  const common = ["--primary", primary, "--data-dir", dataDir];
  const stream = spawnCli([
    "stream",
    ...common,
    "--exchanges",
    "binance",
    "--exchange-url",
    `binance=${fake.wsUrl}`,
    "--http",
    "off",
    "--outbox-max",
    "300",
  ]);
  try {
    await stream.waitForLine(/outbox refused trades: they are dropped and counted/);
    const status = await waitFor(
      () => {
        const s = readStatus(dataDir);
        return s && s.counters.dropped === 500 ? s : null;
      },
      20_000,
      "500 dropped",
    );
    assertEquals([status.outbox.depth, status.outbox.full], [300, true]);
    const health = await runCli(["health", "--json", ...common]);
    assertEquals(health.code, 2, health.stdout);
    const doc = JSON.parse(health.stdout);
    assertEquals(doc.status, "fail");
    match(JSON.stringify(doc.checks["outbox:depth"]), /"status":"fail"/);
    const nagios = await runCli(["health", ...common]);
    match(nagios.stdout.split("\n")[0], /^BTCFEED CRITICAL - .*outbox/i);
  } finally {
    await stream.stop();
    await fake.stop();
    await Deno.remove(dataDir, { recursive: true });
  }
});
