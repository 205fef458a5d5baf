/**
 * `btcfeed demo` end to end through the real CLI, with a real redis-server and no network: the
 * demo's Redis holds the recording's trades exactly, the Binance gap is recorded with its missing
 * count, the malformed messages are counted, and nothing it started outlives it — after a normal
 * end, after Ctrl-C mid-run, and without any redis-server on the PATH.
 */

import { deepStrictEqual as assertEquals, ok } from "node:assert/strict";
import { join } from "node:path";
import { Redis } from "ioredis";
import { runCli, spawnCli, waitFor } from "../support/cli.ts";
import { startRedis } from "../support/redis_server.ts";
import { describeVerdict, verifyMarket } from "../support/verify.ts";
import { marketKeys } from "../../lib/redis/keys.ts";
import type { StreamStatus } from "../../lib/runtime/status.ts";
import { makeDemoRecording, recordingText } from "../../demo/make_recording.ts";

const RECORDING = new URL("../../demo/recording.ndjson", import.meta.url);
const expected = makeDemoRecording();
const totalTrades = Object.values(expected.trades).reduce((n, t) => n + t.length, 0);

/** `kill -0`: Deno lets only --allow-all read another process's /proc entry. */
function alive(pid: number): boolean {
  return new Deno.Command("kill", { args: ["-0", String(pid)], stderr: "null" }).outputSync()
    .success;
}

function redisPid(stderr: string): { pid: number; port: number } {
  const m = /redis-server pid (\d+) on port (\d+)/.exec(stderr);
  ok(m, `the demo names its redis-server:\n${stderr}`);
  return { pid: Number(m[1]), port: Number(m[2]) };
}

function readLog(redisDir: string): string {
  try {
    return Deno.readTextFileSync(join(redisDir, "redis.log"));
  } catch (e) {
    return `(no redis.log in ${redisDir}: ${e})`;
  }
}

function readStatus(dataDir: string): StreamStatus {
  return JSON.parse(Deno.readTextFileSync(join(dataDir, "stream", "status.json")));
}

Deno.test("the committed demo recording is what demo/make_recording.ts generates, and is small", async () => {
  const text = await Deno.readTextFile(RECORDING);
  assertEquals(text, recordingText(expected), "regenerate with demo/make_recording.ts");
  ok(text.length < 1_000_000, `${text.length} bytes`);
  const markets = new Set(expected.lines.map((l) => l.market.split(":")[0]));
  assertEquals(markets.size, 6, "all six exchanges");
});

Deno.test("demo: its Redis holds every recorded trade exactly, the gap with its missing count, the malformed messages counted; its redis-server is gone", async () => {
  const dir = await Deno.makeTempDir({ prefix: "btcfeed-demo-test-" });
  try {
    const run = await runCli(["demo", "--data-dir", dir, "--speed", "5000"], {});
    assertEquals(run.code, 0, run.stderr);
    const { pid, port } = redisPid(run.stderr);
    ok(!alive(pid), "the demo's redis-server was stopped");
    const gapKey = marketKeys("btcfeed", expected.gap.market).gaps;
    for (
      const command of [
        `redis-cli -p ${port} XREVRANGE 'btcfeed:{binance:BTC-USDT}:trades' + - COUNT 5`,
        `redis-cli -p ${port} HGETALL btcfeed:btc:last`,
        `redis-cli -p ${port} XRANGE '${gapKey}' - +`,
        `redis-cli -p ${port} SUBSCRIBE btcfeed:trades`,
      ]
    ) ok(run.stdout.includes(command), `prints ${command}:\n${run.stdout}`);

    // What the demo's Redis kept (its append-only file in --data-dir), read by a new server.
    const redis = await startRedis({ args: ["--dir", join(dir, "redis"), "--appendonly", "yes"] });
    const client = new Redis(redis.url);
    try {
      for (const [market, trades] of Object.entries(expected.trades)) {
        const v = await verifyMarket(client, "btcfeed", trades);
        ok(
          v.present === trades.length && !v.duplicated && !v.reordered && !v.mismatched.length &&
            !v.badCandles.length && !v.badLast,
          `${market}: ${describeVerdict(v)}`,
        );
        const gaps = await client.xrange(marketKeys("btcfeed", market).gaps, "-", "+");
        assertEquals(gaps.length, market === expected.gap.market ? 1 : 0, `${market} gaps`);
      }
      const [[, flat]] = await client.xrange(gapKey, "-", "+");
      const { after, before, missing } = expected.gap;
      assertEquals(flat, [
        ...["reason", "id_gap", "after_trade_id", after.tradeId, "before_trade_id"],
        ...[before.tradeId, "from_ts", String(after.ts), "to_ts", String(before.ts)],
        ...["recovered", "0", "missing", String(missing)],
      ]);
      ok((await client.hget("btcfeed:btc:last", "price"))?.length, "a consolidated price");
    } finally {
      client.disconnect();
      await redis.stop();
    }
    const status = readStatus(dir);
    for (const [market, m] of Object.entries(status.markets)) {
      assertEquals(m.quarantined, expected.malformed[market] ?? {}, `${market} quarantine`);
      assertEquals(m.trades, expected.trades[market].length, `${market} trades`);
    }
    assertEquals(status.outbox.depth, 0);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("demo: Ctrl-C mid-run stops the stream and its redis-server and removes its temporary directory", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "btcfeed-demo-tmp-" });
  const demo = spawnCli(["demo", "--speed", "2"], { TMPDIR: tmp });
  try {
    const started = await demo.waitForLine(/redis-server pid \d+ on port/);
    const { pid } = redisPid(started);
    const redisDir = /\((\/[^)]+)\)/.exec(started)?.[1] ?? "";
    if (!alive(pid)) {
      await new Promise((r) => setTimeout(r, 500)); // let the demo say how it ended
      ok(false, `the redis-server died early:\n${demo.lines.join("\n")}\n${readLog(redisDir)}`);
    }
    const [root] = [...Deno.readDirSync(tmp)].map((e) => join(tmp, e.name));
    await waitFor(
      () => {
        try {
          return Object.values(readStatus(root).markets).some((m) => m.trades > 0);
        } catch {
          return false;
        }
      },
      20_000,
      "trades flowing",
    );
    demo.kill("SIGINT");
    const status = await demo.status;
    assertEquals(status.code, 0, demo.lines.join("\n"));
    await waitFor(() => !alive(pid), 15_000, "the redis-server to be gone");
    assertEquals([...Deno.readDirSync(tmp)], [], "the temporary directory is removed");
  } finally {
    // On a failed assertion the demo may still run: stop it before removing what it writes to.
    demo.kill("SIGTERM");
    await demo.status;
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("demo without a redis-server on the PATH says how to get one and leaves every trade in the outbox", async () => {
  const dir = await Deno.makeTempDir({ prefix: "btcfeed-demo-test-" });
  try {
    const run = await runCli(
      ["demo", "--data-dir", dir, "--speed", "5000"],
      { PATH: "/nonexistent" },
    );
    assertEquals(run.code, 0, run.stderr);
    ok(run.stderr.includes("apt-get install redis-server"), run.stderr);
    ok(run.stdout.includes(`the trades are in the outbox (${totalTrades} trades)`), run.stdout);
    assertEquals(readStatus(dir).outbox.depth, totalTrades);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("demo --speed that is not a positive number is one line naming the flag, exit 2", async () => {
  const run = await runCli(["demo", "--speed", "0"], {});
  assertEquals(run.code, 2);
  const lines = run.stderr.trim().split("\n");
  assertEquals(lines.length, 1, run.stderr);
  ok(lines[0].includes("--speed"), lines[0]);
});
