/**
 * `--record` then `--replay` through the real CLI: a recording replayed into a fresh Redis, with
 * no exchange running, gives exactly the same keys as the live run; a truncated last line is
 * reported and everything before it is applied.
 */

import { deepStrictEqual as assertEquals, ok } from "node:assert/strict";
import { join } from "node:path";
import { Redis } from "ioredis";
import { runCli, waitFor } from "../support/cli.ts";
import { startRedis } from "../support/redis_server.ts";
import { marketKeys } from "../../lib/redis/keys.ts";
import { assertFullTape, tradeCount, withEnv } from "./_harness.ts";

/** Everything a market holds on a Redis: stream entries, `last` and candles. */
async function marketState(client: Redis, market: string) {
  const keys = marketKeys("btcfeed", market);
  return {
    trades: await client.xrange(keys.trades, "-", "+"),
    last: await client.hgetall(keys.last),
    candles: await client.hgetall(keys.candles),
  };
}

/** Runs `btcfeed stream --replay file` into a fresh redis-server; `fn` reads it before it stops. */
async function replayInto(
  file: string,
  fn: (client: Redis, run: { code: number; stderr: string }) => Promise<void>,
  client?: Redis,
): Promise<void> {
  const redis = client ? null : await startRedis();
  const reader = client ?? new Redis(redis!.url, { lazyConnect: true });
  const dataDir = await Deno.makeTempDir({ prefix: "btcfeed-replay-" });
  try {
    const url = redis ? redis.url : `redis://127.0.0.1:${reader.options.port}`;
    const run = await runCli([
      ...["stream", "--replay", file, "--primary", url, "--data-dir", dataDir, "--http", "off"],
    ]);
    assertEquals(run.code, 0, run.stderr.split("\n").slice(-10).join("\n"));
    await fn(reader, run);
  } finally {
    if (!client) reader.disconnect();
    await redis?.stop();
    await Deno.remove(dataDir, { recursive: true });
  }
}

Deno.test("a recording replayed into a fresh Redis, with no exchange, gives the same trades, last and candles; replaying it again adds nothing", async () => {
  const dir = await Deno.makeTempDir({ prefix: "btcfeed-record-" });
  const file = join(dir, "feed.ndjson");
  const now = Date.now() * 1000;
  try {
    const live: Record<string, Awaited<ReturnType<typeof marketState>>> = {};
    await withEnv([
      { exchange: "binance", trades: 1_200, ratePerSec: 3_000, startMicros: now },
      { exchange: "kraken", trades: 1_200, ratePerSec: 3_000, startMicros: now },
    ], async (env) => {
      const stream = env.startStream(["--record", file]);
      for (const f of env.fakes) {
        const m = f.tape[0].market;
        await waitFor(async () => (await tradeCount(env.client, m)) >= 1_200, 20_000, m);
        await assertFullTape(env.client, f);
        live[m] = await marketState(env.client, m);
      }
      assertEquals((await stream.stop()).code, 0);
    });
    const lines = (await Deno.readTextFile(file)).trimEnd().split("\n").map((l) => JSON.parse(l));
    ok(lines.every((l) => typeof l.t === "number" && typeof l.msg === "string"), "NDJSON records");
    assertEquals(new Set(lines.map((l) => l.market)), new Set(Object.keys(live)));

    await replayInto(file, async (client, run) => {
      for (const [m, state] of Object.entries(live)) {
        assertEquals(await marketState(client, m), state, `${m} replayed exactly`);
      }
      ok(run.stderr.includes('"replay.finished"'), "the replay says it finished");
      // Replaying the same file into the same Redis again changes nothing.
      await replayInto(file, async () => {
        for (const [m, state] of Object.entries(live)) {
          assertEquals(await marketState(client, m), state, `${m} unchanged by a second replay`);
        }
      }, client);
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a recording whose last line was cut mid-write is replayed up to the last complete line, and the byte offset of the cut is reported", async () => {
  const dir = await Deno.makeTempDir({ prefix: "btcfeed-record-" });
  const file = join(dir, "feed.ndjson");
  try {
    let liveIds: string[] = [];
    let market = "";
    await withEnv([{
      exchange: "binance",
      trades: 800,
      ratePerSec: 3_000,
      startMicros: Date.now() * 1000,
    }], async (env) => {
      market = env.fakes[0].tape[0].market;
      const stream = env.startStream(["--record", file]);
      await waitFor(async () => (await tradeCount(env.client, market)) >= 800, 20_000, "trades");
      liveIds = (await marketState(env.client, market)).trades.map(([id]) => id);
      await stream.stop();
    });
    const bytes = await Deno.readFile(file);
    const lastStart = bytes.lastIndexOf(10, bytes.length - 2) + 1;
    const lastLine = JSON.parse(new TextDecoder().decode(bytes.subarray(lastStart)));
    const cutTradeId = String(JSON.parse(lastLine.msg).t);
    await Deno.writeFile(file, bytes.subarray(0, lastStart + 25));

    await replayInto(file, async (client, run) => {
      const line = run.stderr.split("\n").find((l) => l.includes('"replay.truncated"'));
      ok(line, "the truncation is reported");
      assertEquals(JSON.parse(line).offset, lastStart);
      const ids = (await marketState(client, market)).trades.map(([id]) => id);
      assertEquals(ids, liveIds.filter((id) => !id.endsWith(`-${cutTradeId}`)));
      assertEquals(ids.length, liveIds.length - 1);
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
