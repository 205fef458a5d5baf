/**
 * Set-up of the feeder-group tests: one real redis-server, one fake exchange on the clock, and
 * several real `btcfeed stream --group` processes, each with its own data directory, all
 * stopped in `finally`. {@link PrimaryWatch} samples the primary to measure the longest time
 * without a new trade and the availability (share of seconds with a trade < 2 s old).
 */

import { Redis } from "ioredis";
import { type RedisServer, startRedis } from "../support/redis_server.ts";
import { type FakeExchange, startFakeExchange } from "../support/fake_exchange.ts";
import { type CliProcess, runCli, spawnCli } from "../support/cli.ts";
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
  /** Starts its stream, on `primaryUrl` (default: the group's primary). */
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

/**
 * A feeder of group `g` (not started) on `primaryUrl`, with its own data directory: a host of its
 * own, as far as btcfeed can tell. The caller removes `dataDir`.
 */
export async function createFeeder(
  id: string,
  fake: FakeExchange,
  primaryUrl: string,
  leaseMs: number,
): Promise<Feeder> {
  const dataDir = await Deno.makeTempDir({ prefix: `btcfeed-group-${id}-` });
  const f: Feeder = {
    id,
    dataDir,
    proc: null,
    log: [],
    start(url = primaryUrl) {
      f.proc = spawnCli([
        ...streamArgs([fake], url, dataDir),
        "--hold-down-ms",
        "300",
        "--group",
        "g",
        "--lease-ms",
        String(leaseMs),
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
  return f;
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
    feeders.push(await createFeeder(`f${i}`, fake, redis.url, o.leaseMs));
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

/** `btcfeed health --json` of `f` on `primaryUrl`: exit code and the checks that did not pass. */
export async function feederHealth(
  f: Feeder,
  primaryUrl: string,
): Promise<{ code: number; problems: string }> {
  const r = await runCli(["health", "--json", "--data-dir", f.dataDir, "--primary", primaryUrl]);
  const doc = JSON.parse(r.stdout);
  const problems = Object.entries(
    doc.checks as Record<string, { status: string; output: string }[]>,
  )
    .filter(([, c]) => c[0].status !== "pass").map(([k, c]) => `${k}: ${c[0].output}`);
  return { code: r.code, problems: problems.join("; ") };
}

/** Waits until `f` writes in primary mode. */
export function untilWriting(f: Feeder, timeoutMs: number): Promise<unknown> {
  return waitFor(
    () => f.status()?.group?.role === "writer" && f.status()?.mode === "primary",
    timeoutMs,
    `${f.id} writing`,
  );
}

/**
 * Samples the primary's stream of the fake's market every `intervalMs` until stopped, with how
 * many trades the fake had emitted at that moment: a trade's age is counted from its emission
 * (the tape's trade times do not follow the wall clock).
 */
export class PrimaryWatch {
  #samples: { at: number; length: number; top: number; sent: number }[] = [];
  #stop = false;
  #loop: Promise<void>;

  constructor(client: Redis, fake: FakeExchange, intervalMs = 100) {
    const key = marketKeys("btcfeed", fake.tape[0].market).trades;
    const index = new Map(fake.tape.map((t, i) => [t.tradeId, i]));
    this.#loop = (async () => {
      while (!this.#stop) {
        try {
          const sent = fake.sent();
          const [length, newest] = await Promise.all([
            client.xlen(key),
            client.xrevrange(key, "+", "-", "COUNT", 1),
          ]);
          const flat = newest[0]?.[1] ?? [];
          const top = index.get(flat[flat.indexOf("trade_id") + 1]) ?? -1;
          this.#samples.push({ at: Date.now(), length, top, sent });
        } catch { /* a primary between masters: no sample */ }
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

  /**
   * Share of whole seconds in [fromMs, toMs) with a sample whose newest trade was emitted less
   * than 2 s before (emission time known to the sampling interval: the first sample after it).
   */
  availability(fromMs: number, toMs: number): number {
    const emittedAt = (i: number) => this.#samples.find((s) => s.sent > i)?.at ?? Infinity;
    const fresh = new Set<number>();
    for (const s of this.#samples) {
      if (s.at < fromMs || s.at >= toMs || s.top < 0) continue;
      if (s.at - emittedAt(s.top) < 2_000) fresh.add(Math.floor((s.at - fromMs) / 1000));
    }
    const seconds = Math.floor((toMs - fromMs) / 1000);
    return seconds > 0 ? fresh.size / seconds : 0;
  }
}
