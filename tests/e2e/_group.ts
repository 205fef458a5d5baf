/**
 * Set-up of the feeder-group tests: one real redis-server, one fake exchange on the clock, and
 * several real `btcfeed stream --group` processes, each with its own data directory, all
 * stopped in `finally`. {@link PrimaryWatch} samples the primary to measure the longest time
 * without a new trade and the availability (share of seconds with a trade < 2 s old).
 */

import { Redis } from "ioredis";
import { type RedisServer, startRedis } from "../support/redis_server.ts";
import { type FakeExchange, startFakeExchange } from "../support/fake_exchange.ts";
import { type CliProcess, spawnCli } from "../support/cli.ts";
import { readStatus, type StreamStatus } from "../../lib/runtime/status.ts";
import { marketKeys } from "../../lib/redis/keys.ts";
import assert from "node:assert/strict";
import { waitFor } from "../support/cli.ts";
import { assertTape, streamArgs } from "./_harness.ts";

/** One feeder of the group: its id, data directory and current process. */
export interface Feeder {
  id: string;
  dataDir: string;
  proc: CliProcess | null;
  /** Every log line of every process this feeder ran, oldest first. */
  log: string[];
  /** Starts its stream, on `primaryUrl` (default: the redis-server directly). */
  start(primaryUrl?: string): CliProcess;
  status(): StreamStatus | null;
}

export interface GroupEnv {
  redis: RedisServer;
  client: Redis;
  fake: FakeExchange;
  market: string;
  feeders: Feeder[];
  /** The feeder whose status says it writes, or null. */
  writer(): Feeder | null;
}

export interface GroupOptions {
  feeders: number;
  trades: number;
  ratePerSec: number;
  leaseMs: number;
}

/** Runs `fn` with a redis-server, a fake binance on the clock and `feeders` feeders (not started). */
export async function withGroup(
  o: GroupOptions,
  fn: (env: GroupEnv) => Promise<void>,
): Promise<void> {
  const redis = await startRedis();
  const client = new Redis(redis.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  client.on("error", () => {});
  const fake = await startFakeExchange({
    exchange: "binance",
    trades: o.trades,
    ratePerSec: o.ratePerSec,
    pauseWhileDisconnected: false,
    startMicros: Date.now() * 1000,
  });
  const feeders: Feeder[] = [];
  for (let i = 0; i < o.feeders; i++) {
    const dataDir = await Deno.makeTempDir({ prefix: `btcfeed-group-${i}-` });
    const f: Feeder = {
      id: `f${i}`,
      dataDir,
      proc: null,
      log: [],
      start(primaryUrl = redis.url) {
        f.proc = spawnCli([
          ...streamArgs([fake], primaryUrl, dataDir),
          "--hold-down-ms",
          "300",
          "--group",
          "g",
          "--lease-ms",
          String(o.leaseMs),
          "--feeder-id",
          f.id,
        ]);
        const proc = f.proc;
        proc.status.then(() => f.log.push(`--- run ${proc.pid}`, ...proc.lines.slice(-40)));
        return proc;
      },
      status() {
        try {
          return readStatus(dataDir);
        } catch {
          return null;
        }
      },
    };
    feeders.push(f);
  }
  const env: GroupEnv = {
    redis,
    client,
    fake,
    market: fake.tape[0].market,
    feeders,
    writer: () => feeders.find((f) => f.status()?.group?.role === "writer") ?? null,
  };
  try {
    await fn(env);
  } catch (e) {
    const logs = feeders.map((f) =>
      `=== ${f.id}\n${f.log.join("\n")}\n--- now\n${(f.proc?.lines ?? []).slice(-30).join("\n")}`
    ).join("\n");
    throw new Error(`${e instanceof Error ? e.message : e}\n${logs}`, { cause: e });
  } finally {
    for (const f of feeders) await f.proc?.stop();
    client.disconnect();
    await fake.stop();
    await redis.stop();
    for (const f of feeders) await Deno.remove(f.dataDir, { recursive: true }).catch(() => {});
  }
}

/** Every trade of the tape from the primary's first one on: exactly once, in order. */
export async function assertTapeFromFirst(env: GroupEnv): Promise<void> {
  const first = await env.client.xrange(`btcfeed:{${env.market}}:trades`, "-", "+", "COUNT", 1);
  const firstId = first[0][1][first[0][1].indexOf("trade_id") + 1];
  const from = env.fake.tape.findIndex((t) => t.tradeId === firstId);
  assert.ok(from >= 0, `first trade ${firstId} is on the tape`);
  await assertTape(env.client, env.fake.tape.slice(from));
}

/** Waits until `f` writes in primary mode. */
export function untilWriting(f: Feeder, timeoutMs: number): Promise<unknown> {
  return waitFor(
    () => f.status()?.group?.role === "writer" && f.status()?.mode === "primary",
    timeoutMs,
    `${f.id} writing`,
  );
}

/** Samples the primary's stream of `market` every `intervalMs` until stopped. */
export class PrimaryWatch {
  #samples: { at: number; length: number; newestTs: number | null }[] = [];
  #stop = false;
  #loop: Promise<void>;

  constructor(client: Redis, market: string, intervalMs = 100) {
    const key = marketKeys("btcfeed", market).trades;
    this.#loop = (async () => {
      while (!this.#stop) {
        try {
          const [length, top] = await Promise.all([
            client.xlen(key),
            client.xrevrange(key, "+", "-", "COUNT", 1),
          ]);
          const flat = top[0]?.[1] ?? [];
          const ts = flat[flat.indexOf("ts") + 1];
          this.#samples.push({ at: Date.now(), length, newestTs: ts ? Number(ts) : null });
        } catch { /* the primary is always up in these tests; skip a slow sample */ }
        await new Promise((r) => setTimeout(r, intervalMs));
      }
    })();
  }

  async stop(): Promise<void> {
    this.#stop = true;
    await this.#loop;
  }

  /** Longest time (ms) between two samples at which the stream grew, from its first trade on. */
  longestStallMs(untilLength: number): number {
    let longest = 0;
    let grewAt: number | null = null;
    let length = 0;
    for (const s of this.#samples) {
      if (s.length > length) {
        if (grewAt !== null && length > 0) longest = Math.max(longest, s.at - grewAt);
        grewAt = s.at;
        length = s.length;
        if (length >= untilLength) break;
      }
    }
    return longest;
  }

  /** Share of whole seconds in [fromMs, toMs) with a sample whose newest trade is < 2 s old. */
  availability(fromMs: number, toMs: number): number {
    const fresh = new Set<number>();
    for (const s of this.#samples) {
      if (s.at < fromMs || s.at >= toMs || s.newestTs === null) continue;
      if (s.at - s.newestTs < 2_000) fresh.add(Math.floor((s.at - fromMs) / 1000));
    }
    const seconds = Math.floor((toMs - fromMs) / 1000);
    return seconds > 0 ? fresh.size / seconds : 0;
  }
}
