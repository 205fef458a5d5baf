/**
 * Replay of a large backlog: `BTCFEED_BENCH_BACKLOG_TRADES` trades (default 10,000,000) pending
 * in the journal, replayed into a real redis-server by the REAL `btcfeed sync` process, its peak
 * RSS (VmHWM) sampled from `/proc/<pid>/status`; against raw pipelined `XADD` of the same trades
 * (5000 a pipeline, `MAXLEN ~` like btcfeed's streams, no script: the most one client gets out of
 * this server) in the same run.
 *
 * The journal is filled directly through the store API (`Journal.append`, 5000 a transaction,
 * `synchronous=NORMAL`: the fill is set-up, not measured), with bench/replay_bench.ts's tape
 * (three markets). The replay must report every trade replayed and none remaining, and each
 * market's newest stream entry must be its newest trade, or the bench fails. The baseline runs
 * over the first `min(N, 2,000,000)` trades (its rate is steady; it keeps the run short) and
 * the server is flushed before the replay. Aim (issue 10): ≥ 120,000 trades/s, bounded memory.
 *
 * Run: `deno task bench backlog` (CI-sized: `BTCFEED_BENCH_BACKLOG_TRADES=5000`).
 */

import { fileURLToPath } from "node:url";
import type { Redis } from "ioredis";
import { Journal } from "../lib/store/journal.ts";
import { createRedis } from "../lib/redis/client.ts";
import { marketKeys } from "../lib/redis/keys.ts";
import { startRedis } from "../tests/support/redis_server.ts";
import { BTCFEED_PERMISSIONS } from "../tests/support/cli.ts";
import { readRss } from "./_e2e_rig.ts";
import { MARKETS, tradeAt } from "./replay_bench.ts";
import { envInt, int, ratio, table } from "./_table.ts";

const BATCH = 5_000;
const BASELINE_MAX = 2_000_000;
const MAX_LEN = 1_000_000; // btcfeed's default --max-trades
const MAIN = fileURLToPath(new URL("../main.ts", import.meta.url));

/** What one backlog run measured. */
export interface BacklogFigures {
  trades: number;
  fillSeconds: number;
  baselineTrades: number;
  baselinePerSec: number;
  replaySeconds: number;
  replayPerSec: number;
  wallSeconds: number;
  peakRssMb: number;
}

function fill(dir: string, count: number): number {
  const started = performance.now();
  const journal = Journal.open(dir, { synchronous: "NORMAL", maxTrades: count });
  try {
    for (let i = 0; i < count; i += BATCH) {
      const n = Math.min(BATCH, count - i);
      const outcome = journal.append(Array.from({ length: n }, (_, k) => tradeAt(i + k)));
      if (!outcome.ok) throw new Error(`bench: journal fill failed: ${outcome.message}`);
    }
    if (journal.depth() !== count) throw new Error(`bench: ${journal.depth()} pending != ${count}`);
  } finally {
    journal.close();
  }
  return (performance.now() - started) / 1000;
}

async function rawXadd(redis: Redis, count: number): Promise<number> {
  let ms = 0;
  for (let i = 0; i < count; i += BATCH) {
    const batch = Array.from({ length: Math.min(BATCH, count - i) }, (_, k) => tradeAt(i + k));
    const started = performance.now(); // the tape's generation is not the baseline's cost
    const p = redis.pipeline();
    for (const t of batch) {
      p.xadd(`raw:{${t.market}}:trades`, "MAXLEN", "~", MAX_LEN, t.id, "p", t.price, "q", t.size);
    }
    const replies = await p.exec();
    ms += performance.now() - started;
    if (replies?.some(([e]) => e)) throw new Error("bench: raw XADD failed");
  }
  return count / (ms / 1000);
}

/** Runs `btcfeed sync --json` on `dir`, sampling its peak RSS; returns its summary. */
async function sync(url: string, dir: string, count: number) {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      ...BTCFEED_PERMISSIONS,
      MAIN,
      "sync",
      "--json",
      "--primary",
      url,
      "--data-dir",
      dir,
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: {
      BTCFEED_LOG_LEVEL: "warn",
      BTCFEED_OUTBOX_MAX: String(Math.max(count, 10_000_000)),
      NO_COLOR: "1",
    },
  }).spawn();
  const started = performance.now();
  let peakKb = 0;
  let done = false;
  const output = child.output().finally(() => done = true);
  while (!done) {
    const r = await readRss(child.pid);
    if (r) peakKb = Math.max(peakKb, r.hwmKb, r.rssKb);
    await Promise.race([output, new Promise((res) => setTimeout(res, 200))]);
  }
  const out = await output;
  const wall = (performance.now() - started) / 1000;
  const text = new TextDecoder().decode(out.stdout);
  if (!out.success) {
    throw new Error(`btcfeed sync exited ${out.code}: ${new TextDecoder().decode(out.stderr)}`);
  }
  const summary = JSON.parse(text.trim().split("\n").pop()!);
  return { summary, wall, peakKb };
}

async function verify(redis: Redis, count: number, summary: Record<string, number>) {
  if (summary.replayed !== count || summary.remaining !== 0) {
    throw new Error(
      `bench: sync replayed ${summary.replayed} of ${count}, ${summary.remaining} left`,
    );
  }
  for (let m = 0; m < MARKETS.length && m < count; m++) {
    const last = count - 1 - ((count - 1 - m) % MARKETS.length);
    const t = tradeAt(last);
    const [entry] = await redis.xrevrange(
      marketKeys("btcfeed", t.market).trades,
      "+",
      "-",
      "COUNT",
      1,
    );
    if (entry?.[0] !== t.id) {
      throw new Error(`bench: ${t.market} ends at ${entry?.[0]}, not ${t.id}`);
    }
  }
}

/** Fills, measures the baseline, replays through `btcfeed sync`; prints and returns the figures. */
export async function run(trades = envInt("BTCFEED_BENCH_BACKLOG_TRADES", 10_000_000)) {
  const server = await startRedis();
  const redis = createRedis(server.url, { commandTimeoutMs: 60_000 });
  const dir = await Deno.makeTempDir({ prefix: "btcfeed-backlog-bench-" });
  try {
    const fillSeconds = fill(dir, trades);
    const bytes = (await Deno.stat(`${dir}/outbox.sqlite`)).size;
    await redis.connect();
    const baselineTrades = Math.min(trades, BASELINE_MAX);
    const baselinePerSec = await rawXadd(redis, baselineTrades);
    await redis.flushall();
    const { summary, wall, peakKb } = await sync(server.url, dir, trades);
    await verify(redis, trades, summary);
    const f: BacklogFigures = {
      trades,
      fillSeconds,
      baselineTrades,
      baselinePerSec,
      replaySeconds: summary.seconds,
      replayPerSec: trades / summary.seconds,
      wallSeconds: wall,
      peakRssMb: peakKb / 1024,
    };
    console.log(
      `backlog of ${int(trades)} pending trades (${MARKETS.length} markets, ` +
        `${(bytes / 1e6).toFixed(0)} MB journal, filled in ${fillSeconds.toFixed(1)} s) replayed ` +
        `by \`btcfeed sync\` into redis-server on 127.0.0.1, ${navigator.hardwareConcurrency} cores`,
    );
    console.log(table(["path", "trades", "seconds", "trades/s", "vs raw XADD", "peak RSS MB"], [
      [
        "raw pipelined XADD x5000 (no script)",
        int(baselineTrades),
        (baselineTrades / baselinePerSec).toFixed(1),
        int(baselinePerSec),
        "1.00x",
        "-",
      ],
      [
        "btcfeed sync (Replayer, apply script)",
        int(trades),
        f.replaySeconds.toFixed(1),
        int(f.replayPerSec),
        ratio(f.replayPerSec / baselinePerSec),
        f.peakRssMb.toFixed(0),
      ],
    ]));
    console.log(
      `sync process wall time ${wall.toFixed(1)} s (start-up included); every trade replayed, ` +
        `each market's stream ends at its newest trade`,
    );
    return f;
  } finally {
    redis.disconnect();
    await server.stop();
    await Deno.remove(dir, { recursive: true });
  }
}

if (import.meta.main) await run();
