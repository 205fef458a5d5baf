/** The CA given as PEM text in BTCFEED_TLS_CA (as App Platform binds `${db.CA_CERT}`), not a path. */

import { deepStrictEqual as assertEquals, match } from "node:assert/strict";
import { Redis } from "ioredis";
import { makeOtherCa, startRedis, testTls } from "../support/redis_server.ts";
import { startFakeExchange } from "../support/fake_exchange.ts";
import { runCli, spawnCli, waitFor } from "../support/cli.ts";
import { marketKeys } from "../../lib/redis/keys.ts";

async function withTlsPrimary(
  fn: (args: string[], market: string, client: Redis) => Promise<void>,
): Promise<void> {
  const redis = await startRedis({ tls: true });
  const fake = await startFakeExchange({ exchange: "binance", trades: 300, ratePerSec: 1_000 });
  const dataDir = await Deno.makeTempDir();
  const client = new Redis(redis.url, { tls: { ca: Deno.readTextFileSync(redis.tlsCaFile!) } });
  client.on("error", () => {});
  const args = ["stream", "--exchanges", "binance", "--exchange-url", `binance=${fake.wsUrl}`];
  args.push("--http", "off", "--primary", redis.url, "--data-dir", dataDir);
  try {
    await fn(args, fake.tape[0].market, client);
  } finally {
    client.disconnect();
    await fake.stop();
    await redis.stop();
    await Deno.remove(dataDir, { recursive: true });
  }
}

Deno.test("streams into a rediss:// primary whose CA comes as PEM text in BTCFEED_TLS_CA", async () => {
  await withTlsPrimary(async (args, market, client) => {
    const pem = await Deno.readTextFile((await testTls()).caFile);
    const stream = spawnCli(args, { BTCFEED_TLS_CA: pem });
    try {
      await waitFor(
        async () => (await client.xlen(marketKeys("btcfeed", market).trades)) === 300,
        20_000,
        "300 trades over TLS verified against the PEM text",
      );
    } finally {
      await stream.stop();
    }
  });
});

Deno.test("PEM text of a CA that did not sign the primary's certificate is refused in one line, exit 2", async () => {
  await withTlsPrimary(async (args) => {
    const other = await Deno.readTextFile(await makeOtherCa());
    const r = await runCli(args, { BTCFEED_TLS_CA: other });
    assertEquals(r.code, 2, r.stderr);
    match(r.stderr.trim(), /--primary: .*certificate/i);
    assertEquals(r.stderr.trim().split("\n").length, 1, r.stderr);
  });
});
