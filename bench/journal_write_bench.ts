/**
 * The write path with the journal on vs off, same server, same run, and the journal's append cost.
 *
 * - off: `TradeWriter` straight to the primary (chunks of 100, pipelines of 5000): the write path
 *   before the journal, without any disk; once awaiting each pipeline before the next, once with
 *   the next pipeline sent behind the one awaited (two in flight), so the client's encoding
 *   overlaps the server's script time. The core's live path keeps one write in flight, so the
 *   like-for-like "off" is the first; the table gives the ratio to both.
 * - on: the real `FailoverCore` — `submit` → group commit to the journal (at the end of the
 *   event-loop turn, or 5000 trades) → write from memory → acknowledgement in the journal — for `--journal-sync full` and `normal`,
 *   timed from the first submit until the primary holds every trade and nothing is pending.
 * - append cost: `Journal.commit` alone, per trade, at group sizes a busy stream produces.
 *
 * Besides wall time, each variant's CPU per trade: this process's (`process.cpuUsage`: encoding,
 * the journal, the core) and the redis-server's (`INFO cpu`, the apply script). On a loaded
 * machine those stay put while the wall figures swing; they say where the time goes, and the
 * larger of the two bounds the rate on two idle cores (their sum, when the two never overlap).
 *
 * The rule (issue 10): on ≥ 120,000 trades/s and within 15% of off (one in flight, like the
 * core's path).
 */

import type { Redis } from "ioredis";
import { TradeWriter } from "../lib/redis/writer.ts";
import { FailoverCore } from "../lib/failover/core.ts";
import { Journal } from "../lib/store/journal.ts";
import { openTarget } from "../lib/failover/targets.ts";
import { log } from "../lib/log.ts";
import type { Trade } from "../lib/trade.ts";
import process from "node:process";
import { int, table } from "./_table.ts";

const N = Number(Deno.env.get("BTCFEED_BENCH_JOURNAL_TRADES") ?? 300_000);

async function off(redis: Redis, trades: Trade[], inFlight: 1 | 2): Promise<number> {
  const w = new TradeWriter(redis, { chunkSize: 100 });
  const start = performance.now();
  let behind: Promise<unknown> | null = null;
  for (let i = 0; i < trades.length; i += 5000) {
    const sent = w.apply(trades.slice(i, i + 5000), () => false);
    if (inFlight === 1) await sent;
    else {
      await behind;
      behind = sent;
    }
  }
  await behind;
  return (performance.now() - start) / 1000;
}

async function on(url: string, trades: Trade[], sync: "FULL" | "NORMAL"): Promise<number> {
  const dir = await Deno.makeTempDir({ prefix: "btcfeed-bench-journal-" });
  const journal = Journal.open(dir, { synchronous: sync });
  const target = openTarget(url, "primary", {
    tlsCaFile: null,
    tlsCaPem: null,
    sentinelPassword: null,
    tlsInsecure: false,
    deadlineMs: 5_000,
    prefix: "btcfeed",
    maxTrades: 1_000_000,
    legacyKeys: false,
  });
  const core = new FailoverCore({
    primary: target,
    failover: null,
    journal,
    isConsolidated: () => false,
    holder: "bench",
    forced: false,
  }, { deadlineMs: 5_000 });
  await target.redis.connect(); // connected, as `stream` is after its start-up check
  core.start();
  try {
    const start = performance.now();
    for (let i = 0; i < trades.length; i += 500) {
      core.submit(trades.slice(i, i + 500));
      // Let timers run (the group commit) and keep the memory copy bounded, like a source does.
      while (core.backlog() > 20_000) await new Promise((r) => setTimeout(r, 1));
      if (i % 5_000 === 0) await new Promise((r) => setTimeout(r, 0));
    }
    const c = core.counters;
    while (c.writtenPrimary + c.replayed < trades.length || journal.depth() > 0) {
      await new Promise((r) => setTimeout(r, 1));
    }
    const seconds = (performance.now() - start) / 1000;
    if (c.failovers) throw new Error(`bench: the core failed over ${c.failovers} times`);
    return seconds;
  } finally {
    await core.close();
    target.redis.disconnect();
    journal.close();
    await Deno.remove(dir, { recursive: true });
  }
}

async function appendCost(trades: Trade[], sync: "FULL" | "NORMAL", group: number) {
  const dir = await Deno.makeTempDir({ prefix: "btcfeed-bench-journal-" });
  const journal = Journal.open(dir, { synchronous: sync });
  const n = Math.min(trades.length, group * 200);
  const start = performance.now();
  for (let i = 0; i < n; i += group) journal.commit(trades.slice(i, i + group));
  const us = ((performance.now() - start) * 1000) / n;
  journal.close();
  await Deno.remove(dir, { recursive: true });
  return us;
}

/** Seconds of CPU the redis-server behind `redis` used so far (user + system). */
async function serverCpu(redis: Redis): Promise<number> {
  const info = await redis.info("cpu");
  const field = (name: string) => Number(new RegExp(`${name}:([0-9.]+)`).exec(info)?.[1] ?? NaN);
  return field("used_cpu_user") + field("used_cpu_sys");
}

interface Measured {
  name: string;
  seconds: number;
  /** µs of CPU per trade: this process, the redis-server. */
  clientUs: number;
  serverUs: number;
}

/** Runs `fn` (which returns its wall seconds) and measures both processes' CPU around it. */
async function measured(redis: Redis, name: string, fn: () => Promise<number>): Promise<Measured> {
  await redis.flushall();
  const server0 = await serverCpu(redis);
  const client0 = process.cpuUsage();
  const seconds = await fn();
  const client = process.cpuUsage(client0);
  const serverUs = ((await serverCpu(redis)) - server0) * 1e6 / N;
  return { name, seconds, clientUs: (client.user + client.system) / N, serverUs };
}

/** Prints both tables; `makeTrades` gives trades in arrival order over several markets. */
export async function runJournal(
  redis: Redis,
  url: string,
  makeTrades: (n: number) => Trade[],
): Promise<void> {
  log.configure({ level: "error" });
  const trades = makeTrades(N);
  const rows: Measured[] = [];
  try {
    const offName = (n: number) => `journal off: TradeWriter x5000, ${n} in flight`;
    rows.push(await measured(redis, offName(1), () => off(redis, trades, 1)));
    rows.push(await measured(redis, offName(2), () => off(redis, trades, 2)));
    for (const sync of ["FULL", "NORMAL"] as const) {
      const name = `journal on (${sync.toLowerCase()}): FailoverCore`;
      rows.push(await measured(redis, name, () => on(url, trades, sync)));
    }
  } finally {
    log.configure({ level: "info" });
  }
  const percentOf = (r: Measured, off: Measured) =>
    `${((off.seconds / r.seconds) * 100).toFixed(0)}%`;
  console.log(`\nwrite path, journal on vs off (${int(N)} trades, loopback)`);
  console.log(table(
    [
      "path",
      "seconds",
      "trades/s",
      "vs off, 1 in flight",
      "vs off, 2 in flight",
      "client CPU µs/trade",
      "redis CPU µs/trade",
    ],
    rows.map((r) => [
      r.name,
      r.seconds.toFixed(2),
      int(N / r.seconds),
      percentOf(r, rows[0]),
      percentOf(r, rows[1]),
      r.clientUs.toFixed(2),
      r.serverUs.toFixed(2),
    ]),
  ));
  const cost: string[][] = [];
  for (const group of [250, 1000, 5000]) {
    const full = await appendCost(trades, "FULL", group);
    const normal = await appendCost(trades, "NORMAL", group);
    cost.push([int(group), full.toFixed(2), normal.toFixed(2)]);
  }
  console.log("\njournal append cost per trade (µs), by group-commit size");
  console.log(table(["group", "full", "normal"], cost));
}
