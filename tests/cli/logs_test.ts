/** Logs: JSON lines off a terminal, readable lines with --log-format pretty, never one per trade. */

import { deepStrictEqual as assertEquals, match, ok } from "node:assert/strict";
import { startRedis } from "../support/redis_server.ts";
import { startFakeExchange } from "../support/fake_exchange.ts";
import { spawnCli, waitFor } from "../support/cli.ts";
import { readStatus } from "../../lib/runtime/status.ts";

async function streamLines(extra: string[]): Promise<string[]> {
  const redis = await startRedis();
  const fake = await startFakeExchange({ exchange: "binance", trades: 3_000, ratePerSec: 3_000 });
  const dataDir = await Deno.makeTempDir();
  const stream = spawnCli([
    "stream",
    "--exchanges",
    "binance",
    "--exchange-url",
    `binance=${fake.wsUrl}`,
    "--primary",
    redis.url,
    "--data-dir",
    dataDir,
    "--http",
    "off",
    ...extra,
  ]);
  try {
    await waitFor(
      () => readStatus(dataDir)?.counters.writtenPrimary === 3_000,
      20_000,
      "3,000 trades",
    );
  } finally {
    await stream.stop();
    await fake.stop();
    await redis.stop();
    await Deno.remove(dataDir, { recursive: true });
  }
  return stream.lines.filter((l) => l.trim());
}

Deno.test("off a terminal, logs are JSON lines with time, level and event, and 3,000 trades make no per-trade lines", async () => {
  const lines = await streamLines([]);
  for (const line of lines) {
    const entry = JSON.parse(line);
    ok(entry.time && entry.level && entry.event, line);
  }
  ok(lines.some((l) => JSON.parse(l).event === "stream started"));
  ok(lines.length < 20, `${lines.length} lines:\n${lines.join("\n")}`);
});

Deno.test("--log-format pretty gives readable lines", async () => {
  const lines = await streamLines(["--log-format", "pretty"]);
  const started = lines.find((l) => l.includes("stream started"));
  ok(started, lines.join("\n"));
  match(started!, /^\d\d:\d\d:\d\d\.\d{3} INFO {2}stream started markets=/);
  assertEquals(lines.filter((l) => l.startsWith("{")).length, 0);
});
