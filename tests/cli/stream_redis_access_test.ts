/** Real primaries: TLS with verification, ACL users, and no Redis at all. */

import { deepStrictEqual as assertEquals, match, ok } from "node:assert/strict";
import { Redis } from "ioredis";
import { freePort, makeOtherCa, startRedis } from "../support/redis_server.ts";
import { startFakeExchange } from "../support/fake_exchange.ts";
import { runCli, spawnCli, waitFor } from "../support/cli.ts";
import { marketKeys } from "../../lib/redis/keys.ts";
import { readStatus } from "../../lib/failover/status.ts";

async function fakeBinance(trades = 500) {
  const fake = await startFakeExchange({ exchange: "binance", trades, ratePerSec: 1_000 });
  return {
    fake,
    args: ["--exchanges", "binance", "--exchange-url", `binance=${fake.wsUrl}`, "--http", "off"],
  };
}

Deno.test("streams into a rediss:// primary, verifying its certificate against --tls-ca", async () => {
  const redis = await startRedis({ tls: true });
  const { fake, args } = await fakeBinance();
  const dataDir = await Deno.makeTempDir();
  const stream = spawnCli([
    "stream",
    ...args,
    "--primary",
    redis.url,
    "--tls-ca",
    redis.tlsCaFile!,
    "--data-dir",
    dataDir,
  ]);
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
    await fake.stop();
    await redis.stop();
    await Deno.remove(dataDir, { recursive: true });
  }
});

Deno.test("a primary whose certificate the CA does not vouch for is refused with one clear line, exit 2", async () => {
  const redis = await startRedis({ tls: true });
  const { fake, args } = await fakeBinance();
  const dataDir = await Deno.makeTempDir();
  try {
    const r = await runCli([
      "stream",
      ...args,
      "--primary",
      redis.url,
      "--tls-ca",
      await makeOtherCa(),
      "--data-dir",
      dataDir,
    ]);
    assertEquals(r.code, 2, r.stderr);
    const errorLines = r.stderr.trim().split("\n").filter((l) => l.startsWith("btcfeed:"));
    assertEquals(errorLines.length, 1, r.stderr);
    match(errorLines[0], /--primary: .*certificate/i);
  } finally {
    await fake.stop();
    await redis.stop();
    await Deno.remove(dataDir, { recursive: true });
  }
});

Deno.test("--tls-insecure connects without verification and warns loudly", async () => {
  const redis = await startRedis({ tls: true });
  const { fake, args } = await fakeBinance();
  const dataDir = await Deno.makeTempDir();
  const stream = spawnCli([
    "stream",
    ...args,
    "--primary",
    redis.url,
    "--tls-insecure",
    "--data-dir",
    dataDir,
  ]);
  try {
    await stream.waitForLine(/verification is OFF/);
    await waitFor(
      () => readStatus(dataDir)?.counters.writtenPrimary === 500,
      20_000,
      "trades written",
    );
  } finally {
    await stream.stop();
    await fake.stop();
    await redis.stop();
    await Deno.remove(dataDir, { recursive: true });
  }
});

Deno.test("a wrong ACL password is one clear line and exit 2, never a retry storm, never the password", async () => {
  const redis = await startRedis({ aclUser: { user: "feeder", password: "right-pass" } });
  const { fake, args } = await fakeBinance();
  const dataDir = await Deno.makeTempDir();
  try {
    const url = redis.url.replace("right-pass", "wrong-pass");
    const r = await runCli(["stream", ...args, "--primary", url, "--data-dir", dataDir]);
    assertEquals(r.code, 2, r.stderr);
    match(r.stderr, /btcfeed: --primary: .*(authentication|password)/i);
    ok(!r.stderr.includes("wrong-pass") && !r.stdout.includes("wrong-pass"), r.stderr);
  } finally {
    await fake.stop();
    await redis.stop();
    await Deno.remove(dataDir, { recursive: true });
  }
});

Deno.test("with no Redis at all the stream keeps running, says so, and carries trades in the outbox", async () => {
  const port = await freePort();
  const { fake, args } = await fakeBinance(800);
  const dataDir = await Deno.makeTempDir();
  const stream = spawnCli([
    "stream",
    ...args,
    "--primary",
    `redis://127.0.0.1:${port}`,
    "--data-dir",
    dataDir,
  ]);
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
    await fake.stop();
    await Deno.remove(dataDir, { recursive: true });
  }
});

Deno.test("one stream per data directory: a second one exits 1 naming the first; a killed one's lock is taken over", async () => {
  const port = await freePort();
  const { fake, args } = await fakeBinance(100);
  const dataDir = await Deno.makeTempDir();
  const streamArgs = [
    "stream",
    ...args,
    "--primary",
    `redis://127.0.0.1:${port}`,
    "--data-dir",
    dataDir,
  ];
  const first = spawnCli(streamArgs);
  try {
    await first.waitForLine(/stream started/);
    const second = await runCli(streamArgs);
    assertEquals(second.code, 1, second.stderr);
    match(
      second.stderr,
      new RegExp(`another btcfeed stream \\(pid ${first.pid}\\) is already using`),
    );
    first.kill("SIGKILL");
    await first.status;
    const third = spawnCli(streamArgs);
    await third.waitForLine(/stream started/);
    assertEquals((await third.stop()).code, 0);
  } finally {
    await first.stop();
    await fake.stop();
    await Deno.remove(dataDir, { recursive: true });
  }
});
