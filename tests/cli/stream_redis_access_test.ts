/** Real primaries: TLS with verification, ACL users, and no Redis at all. */

import { deepStrictEqual as assertEquals, match, ok } from "node:assert/strict";
import { Redis } from "ioredis";
import { freePort, makeOtherCa, type RedisServer, startRedis } from "../support/redis_server.ts";
import { type FakeExchange, startFakeExchange } from "../support/fake_exchange.ts";
import { runCli, spawnCli, waitFor } from "../support/cli.ts";
import { marketKeys } from "../../lib/redis/keys.ts";
import { readStatus } from "../../lib/runtime/status.ts";

interface Setup {
  fake: FakeExchange;
  dataDir: string;
  /** `stream` flags for this fake and data directory, writing to `primary`. */
  streamArgs(primary: string, ...extra: string[]): string[];
}

/** A fake Binance with `trades` trades and a data directory (and `redis`, when given), cleaned up after. */
async function withSetup(
  trades: number,
  redis: RedisServer | null,
  fn: (s: Setup) => Promise<void>,
): Promise<void> {
  const fake = await startFakeExchange({ exchange: "binance", trades, ratePerSec: 1_000 });
  const dataDir = await Deno.makeTempDir();
  const streamArgs = (primary: string, ...extra: string[]) => [
    "stream",
    "--exchanges",
    "binance",
    "--exchange-url",
    `binance=${fake.wsUrl}`,
    "--http",
    "off",
    "--primary",
    primary,
    ...extra,
    "--data-dir",
    dataDir,
  ];
  try {
    await fn({ fake, dataDir, streamArgs });
  } finally {
    await fake.stop();
    await redis?.stop();
    await Deno.remove(dataDir, { recursive: true });
  }
}

Deno.test("streams into a rediss:// primary, verifying its certificate against --tls-ca", async () => {
  const redis = await startRedis({ tls: true });
  await withSetup(500, redis, async ({ fake, dataDir, streamArgs }) => {
    const stream = spawnCli(streamArgs(redis.url, "--tls-ca", redis.tlsCaFile!));
    const client = new Redis(redis.url, { tls: { ca: Deno.readTextFileSync(redis.tlsCaFile!) } });
    try {
      await waitFor(
        async () => (await client.xlen(marketKeys("btcfeed", fake.tape[0].market).trades)) === 500,
        20_000,
        "trades over TLS",
      );
      assertEquals(readStatus(dataDir)?.mode, "primary");
    } finally {
      await stream.stop();
      client.disconnect();
    }
  });
});

Deno.test("a primary whose certificate the CA does not vouch for is refused with one clear line, exit 2", async () => {
  const redis = await startRedis({ tls: true });
  await withSetup(500, redis, async ({ streamArgs }) => {
    const r = await runCli(streamArgs(redis.url, "--tls-ca", await makeOtherCa()));
    assertEquals(r.code, 2, r.stderr);
    const errorLines = r.stderr.trim().split("\n").filter((l) => l.startsWith("btcfeed:"));
    assertEquals(errorLines.length, 1, r.stderr);
    match(errorLines[0], /--primary: .*certificate/i);
  });
});

Deno.test("--tls-insecure connects without verification and warns loudly", async () => {
  const redis = await startRedis({ tls: true });
  await withSetup(500, redis, async ({ dataDir, streamArgs }) => {
    const stream = spawnCli(streamArgs(redis.url, "--tls-insecure"));
    try {
      await stream.waitForLine(/verification is OFF/);
      await waitFor(
        () => readStatus(dataDir)?.counters.writtenPrimary === 500,
        20_000,
        "trades written",
      );
    } finally {
      await stream.stop();
    }
  });
});

Deno.test("a wrong ACL password is one clear line and exit 2, never a retry storm, never the password", async () => {
  const redis = await startRedis({ aclUser: { user: "feeder", password: "right-pass" } });
  await withSetup(500, redis, async ({ streamArgs }) => {
    const r = await runCli(streamArgs(redis.url.replace("right-pass", "wrong-pass")));
    assertEquals(r.code, 2, r.stderr);
    match(r.stderr, /btcfeed: --primary: .*(authentication|password)/i);
    ok(!r.stderr.includes("wrong-pass") && !r.stdout.includes("wrong-pass"), r.stderr);
  });
});

Deno.test("with no Redis at all the stream keeps running, says so, and carries trades in the outbox", async () => {
  const primary = `redis://127.0.0.1:${await freePort()}`;
  await withSetup(800, null, async ({ dataDir, streamArgs }) => {
    const stream = spawnCli(streamArgs(primary));
    try {
      await stream.waitForLine(/primary redis unreachable: trades go to the outbox/);
      await waitFor(
        () => readStatus(dataDir)?.outbox.depth === 800,
        20_000,
        "800 trades in the outbox",
      );
      assertEquals(readStatus(dataDir)?.mode, "failover");
    } finally {
      const status = await stream.stop();
      assertEquals(status.code, 0);
    }
  });
});

Deno.test("one stream per data directory: a second one exits 1 naming the first; a killed one's lock is taken over", async () => {
  const primary = `redis://127.0.0.1:${await freePort()}`;
  await withSetup(100, null, async ({ streamArgs }) => {
    const first = spawnCli(streamArgs(primary));
    try {
      await first.waitForLine(/stream started/);
      const second = await runCli(streamArgs(primary));
      assertEquals(second.code, 1, second.stderr);
      match(
        second.stderr,
        new RegExp(`another btcfeed stream \\(pid ${first.pid}\\) is already using`),
      );
      first.kill("SIGKILL");
      await first.status;
      const third = spawnCli(streamArgs(primary));
      await third.waitForLine(/stream started/);
      assertEquals((await third.stop()).code, 0);
    } finally {
      await first.stop();
    }
  });
});
