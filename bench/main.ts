/**
 * The one-command benchmark runner: `deno task bench` runs every benchmark in sequence, each
 * under a title, and ends with how long each took; `deno task bench replay failover` runs a
 * subset (names below, in any order; they run in the listed order). `--list` prints the names.
 *
 * Each benchmark module exports `run()` (what it resolves to is for tests), starts whatever it
 * needs (redis-servers on free ports, temporary directories) and removes it before returning. A benchmark that throws is
 * reported and the others still run; the exit code is then 1. An unknown name exits 2.
 * Modules are imported only when selected, so a subset does not pay for loading ccxt.
 *
 * Environment: `BTCFEED_BENCH_REPLAY_TRADES` (default 1,000,000) and
 * `BTCFEED_BENCH_FAILOVER_REPS` (default 5) shorten the two longest benchmarks;
 * `BTCFEED_BENCH_BACKFILL_TRADES` (default 100,000) sizes the backfill gap;
 * `BTCFEED_BENCH_BACKLOG_TRADES` (default 10,000,000) the backlog, `BTCFEED_BENCH_LATENCY_SECONDS`
 * (default 10) each latency run, `BTCFEED_BENCH_RSS_TRADES` / `BTCFEED_BENCH_RSS_RATE` (defaults
 * 1,000,000 at 10,000/s) the RSS run.
 */

import { table } from "./_table.ts";

interface BenchModule {
  run(): Promise<unknown>;
}

interface Bench {
  name: string;
  title: string;
  load(): Promise<BenchModule>;
}

/** Every benchmark, in run order. */
const BENCHES: readonly Bench[] = [
  {
    name: "write",
    title: "Write path: TradeWriter vs the original per-trade commands",
    load: () => import("./write_path_bench.ts"),
  },
  {
    name: "replay",
    title: "Replay: outbox -> primary through the real Replayer",
    load: () => import("./replay_bench.ts"),
  },
  {
    name: "backlog",
    title: "Backlog: a 10,000,000-trade journal replayed by `btcfeed sync` vs raw XADD",
    load: () => import("./backlog_bench.ts"),
  },
  {
    name: "latency",
    title: "Latency: exchange emission -> Redis reader, `btcfeed stream` vs a direct client",
    load: () => import("./latency_bench.ts"),
  },
  {
    name: "rss",
    title: "RSS: `btcfeed stream` over 1,000,000 trades vs a direct client",
    load: () => import("./rss_bench.ts"),
  },
  {
    name: "failover",
    title: "Failover: detection time and longest ingestion stall per fault",
    load: () => import("./failover_bench.ts"),
  },
  {
    name: "outbox",
    title: "Outbox: durable appends and replay reads (node:sqlite)",
    load: () => import("./outbox_bench.ts"),
  },
  {
    name: "backfill",
    title: "Backfill: throughput under Binance's REST weight limit vs the budget's ceiling",
    load: () => import("./backfill_bench.ts"),
  },
  {
    name: "parse",
    title: "Parse: exchange adapters vs ccxt on the same messages",
    load: () => import("./parse_bench.ts"),
  },
];

/** The benchmarks `args` name (all when none), or an error message. */
export function select(args: readonly string[]): Bench[] | string {
  const names = BENCHES.map((b) => b.name);
  const unknown = args.filter((a) => !names.includes(a));
  if (unknown.length) {
    return `unknown benchmark ${unknown.map((u) => JSON.stringify(u)).join(", ")} ` +
      `(choose from ${names.join(", ")})`;
  }
  return args.length ? BENCHES.filter((b) => args.includes(b.name)) : [...BENCHES];
}

async function main(args: string[]): Promise<number> {
  if (args.includes("--list") || args.includes("--help") || args.includes("-h")) {
    console.log("usage: deno task bench [name...]\n");
    for (const b of BENCHES) console.log(`  ${b.name.padEnd(9)} ${b.title}`);
    return 0;
  }
  const chosen = select(args);
  if (typeof chosen === "string") {
    console.error(`bench: ${chosen}`);
    return 2;
  }
  const results: string[][] = [];
  const started = performance.now();
  for (const [i, bench] of chosen.entries()) {
    console.log(`\n=== [${i + 1}/${chosen.length}] ${bench.title} (${bench.name}) ===`);
    const t0 = performance.now();
    let outcome = "ok";
    try {
      await (await bench.load()).run();
    } catch (e) {
      outcome = "FAILED";
      console.error(`bench ${bench.name} failed: ${e instanceof Error ? e.stack ?? e.message : e}`);
    }
    results.push([bench.name, ((performance.now() - t0) / 1000).toFixed(1), outcome]);
  }
  const total = (performance.now() - started) / 1000;
  console.log(`\n=== summary: ${chosen.length} benchmarks in ${total.toFixed(1)} s ===`);
  console.log(table(["benchmark", "seconds", "outcome"], results));
  return results.some((r) => r[2] !== "ok") ? 1 : 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
