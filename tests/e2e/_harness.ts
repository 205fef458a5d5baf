/**
 * Shared set-up of the end-to-end tests in this folder: real redis-server, fake exchanges, the
 * real `btcfeed stream` as a subprocess, and cleanup of all of them in `finally`.
 */

import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { Redis } from "ioredis";
import { DatabaseSync } from "node:sqlite";
import { join } from "node:path";
import { type RedisServer, startRedis } from "../support/redis_server.ts";
import {
  type FakeExchange,
  type FakeExchangeOptions,
  startFakeExchange,
} from "../support/fake_exchange.ts";
import { type CliProcess, spawnCli, waitFor } from "../support/cli.ts";
import { describeVerdict, verifyMarket } from "../support/verify.ts";
import { readStatus, type StreamStatus } from "../../lib/runtime/status.ts";
import { marketKeys } from "../../lib/redis/keys.ts";
import type { RawTrade } from "../../lib/trade.ts";

/** What a test gets: the services, the stream (once started) and a reader of the primary. */
export interface Env {
  redis: RedisServer;
  /** Reads the primary directly. */
  client: Redis;
  dataDir: string;
  fakes: FakeExchange[];
  stream: CliProcess | null;
  /** Starts `btcfeed stream` on every fake, in their order, plus `extra` flags and `vars`. */
  startStream(extra?: string[], primaryUrl?: string, vars?: Record<string, string>): CliProcess;
  /** The stream's status file, or null. */
  status(): StreamStatus | null;
}

/** `--exchanges`, `--exchange-url` and `--rest-url` for `fakes`, in priority order. */
export function sourceArgs(fakes: FakeExchange[]): string[] {
  const args = ["--exchanges", fakes.map((f) => f.market.exchange).join(",")];
  for (const f of fakes) {
    args.push("--exchange-url", `${f.market.exchange}=${f.wsUrl}`);
    args.push("--rest-url", `${f.market.exchange}=${f.restUrl}`);
  }
  return args;
}

/** `btcfeed stream` on `fakes` into `primaryUrl` with `dataDir`, HTTP off. */
export function streamArgs(fakes: FakeExchange[], primaryUrl: string, dataDir: string): string[] {
  return [
    "stream",
    ...sourceArgs(fakes),
    "--primary",
    primaryUrl,
    "--data-dir",
    dataDir,
    "--http",
    "off",
  ];
}

/** Runs `fn` with a fresh redis-server, data directory and the given fakes; cleans up after. */
export async function withEnv(
  fakeOptions: FakeExchangeOptions[],
  fn: (env: Env) => Promise<void>,
): Promise<void> {
  const redis = await startRedis();
  const fakes: FakeExchange[] = [];
  const dataDir = await Deno.makeTempDir({ prefix: "btcfeed-e2e-" });
  const client = new Redis(redis.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  client.on("error", () => {});
  const env: Env = {
    redis,
    client,
    dataDir,
    fakes,
    stream: null,
    startStream(extra = [], primaryUrl = redis.url, vars = {}) {
      env.stream = spawnCli([...streamArgs(fakes, primaryUrl, dataDir), ...extra], vars);
      return env.stream;
    },
    status() {
      try {
        return readStatus(dataDir);
      } catch {
        return null; // being replaced right now
      }
    },
  };
  try {
    for (const o of fakeOptions) fakes.push(await startFakeExchange(o));
    await fn(env);
  } catch (e) {
    const lines = env.stream?.lines.slice(-30).join("\n") ?? "";
    throw new Error(`${e instanceof Error ? e.message : e}\n--- stream log ---\n${lines}`, {
      cause: e,
    });
  } finally {
    await env.stream?.stop();
    client.disconnect();
    for (const f of fakes) await f.stop();
    await redis.stop();
    await Deno.remove(dataDir, { recursive: true }).catch(() => {});
  }
}

/** Asserts the primary holds exactly `fake`'s tape: once each, in order, exact fields, candles. */
export function assertFullTape(client: Redis, fake: FakeExchange): Promise<void> {
  return assertTape(client, fake.tape);
}

/** Asserts the primary holds exactly `tape` (one market's): once each, in order, exact fields. */
export async function assertTape(client: Redis, tape: RawTrade[]): Promise<void> {
  const verdict = await verifyMarket(client, "btcfeed", tape);
  assertEquals(
    describeVerdict(verdict),
    describeVerdict({
      ...verdict,
      lost: 0,
      duplicated: 0,
      reordered: 0,
      mismatched: [],
      badCandles: [],
      badLast: null,
    }),
  );
}

/** Entries of a market's gap stream as field objects, oldest first. */
export async function gapEntries(
  client: Redis,
  market: string,
): Promise<(Record<string, string> & { id: string })[]> {
  const entries = await client.xrange(marketKeys("btcfeed", market).gaps, "-", "+");
  return entries.map(([id, flat]) => {
    const f: Record<string, string> & { id: string } = { id };
    for (let i = 0; i < flat.length; i += 2) f[flat[i]] = flat[i + 1];
    return f;
  });
}

/** Trades in a market's stream on the primary. */
export async function tradeCount(client: Redis, market: string): Promise<number> {
  try {
    return await client.xlen(marketKeys("btcfeed", market).trades);
  } catch {
    return -1;
  }
}

/** Waits (up to `timeoutMs`) until a market's gap stream has an entry; returns them all. */
export function awaitGapEntries(
  client: Redis,
  market: string,
  timeoutMs = 5_000,
): Promise<(Record<string, string> & { id: string })[]> {
  return waitFor(
    async () => {
      const g = await gapEntries(client, market);
      return g.length ? g : null;
    },
    timeoutMs,
    "a gap record",
  );
}

/**
 * Restarts the stream on `env`'s one fake, whose tape has a gap of `gap` trades after
 * `tape[afterIndex]` left pending on disk, and asserts it is resumed: the full tape once and in
 * order, one gap record with everything recovered, and nothing left pending or held after.
 */
export async function assertPendingGapResumed(
  env: Env,
  gap: { afterIndex: number; size: number },
): Promise<void> {
  const fake = env.fakes[0];
  const market = fake.tape[0].market;
  const restarted = env.startStream();
  await restarted.waitForLine(/feed\.backfill_resumed/, 15_000);
  await waitFor(
    async () => (await tradeCount(env.client, market)) >= fake.tape.length,
    60_000,
    "the full tape after the restart",
  );
  await assertFullTape(env.client, fake);
  const gaps = await awaitGapEntries(env.client, market);
  const after = fake.tape[gap.afterIndex].tradeId;
  const before = fake.tape[gap.afterIndex + 1 + gap.size].tradeId;
  assertEquals(
    [gaps[0].reason, gaps[0].after_trade_id, gaps[0].before_trade_id, gaps[0].recovered],
    ["id_gap", after, before, String(gap.size)],
  );
  assertEquals(gaps.filter((g) => g.missing !== "0"), [], "nothing missing");
  await waitFor(() => env.status()?.markets[market]?.recovering === null, 10_000, "finished");
  assertEquals(
    [storeCount(env.dataDir, "pending_gaps"), storeCount(env.dataDir, "held_trades")],
    [0, 0],
    "nothing pending or held",
  );
}

/** Rows of `table` in the data dir's store, read by a separate connection. */
export function storeCount(dataDir: string, table: string): number {
  const db = new DatabaseSync(join(dataDir, "outbox.sqlite"), { readOnly: true });
  try {
    return Number((db.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n);
  } finally {
    db.close();
  }
}

/**
 * A binance tape of 1,000 trades, a gap of `gap` ids the live feed skips (REST has them, a page
 * every 400 ms: slow enough to stop mid-gap), then 6,000 more held behind it.
 */
export function slowGapTape(startTradeId: number, gap: number): FakeExchangeOptions {
  return {
    exchange: "binance",
    trades: 1_000 + gap + 6_000,
    ratePerSec: 2_000,
    startTradeId,
    skipIds: [startTradeId + 1_000, startTradeId + 999 + gap],
    startMicros: Date.now() * 1000,
    restFaults: { pageDelayMs: 400 },
  };
}
