/**
 * Replay benchmark: how fast the outbox drains into a real primary through the real `Replayer`
 * (the code `btcfeed sync` and the stream's syncing mode run).
 *
 * One run, one redis-server started for it (persistence off), one outbox filled once with
 * `BTCFEED_BENCH_REPLAY_TRADES` synthetic valid trades (default 1,000,000; three markets,
 * contiguous trade ids, increasing ms, prices and sizes with 0-8 fraction digits) in append
 * batches of 5000; each variant replays a fresh copy of that file into a flushed primary:
 * - `Replayer` batchSize 1: one awaited apply per trade (the naive baseline);
 * - `Replayer` batchSize 100;
 * - `Replayer` default options (batchSize 5000), every trade: the headline figure, with a
 *   breakdown of where its time went (SQLite peek/remove/lease, apply's JS side, waiting for
 *   Redis, and the server's own script time from INFO commandstats).
 * Baselines replay a prefix of the outbox (`untilSeq`) to keep the run short; rates are trades
 * per second and ratios to both baselines (batchSize 1 is dominated by fsyncs, so it varies with
 * the disk's load). Each variant then checks that the primary's streams hold exactly the
 * replayed trades and the outbox exactly the rest: a lost trade fails the bench.
 *
 * Run: `deno run -A bench/replay_bench.ts` (or `deno task bench replay`).
 */

import { join } from "node:path";
import type { RedisClient as Redis } from "../lib/redis/client.ts";
import { resolveConfig } from "../lib/config.ts";
import { Journal } from "../lib/store/journal.ts";
import { Replayer } from "../lib/failover/replayer.ts";
import { closeTarget, openTarget } from "../lib/failover/targets.ts";
import { marketKeys } from "../lib/redis/keys.ts";
import { entryIdFor, type Trade } from "../lib/trade.ts";
import { startRedis } from "../tests/support/redis_server.ts";
import { envInt, int, ms, ratio, table } from "./_table.ts";

export const MARKETS = ["binance:BTC-USDT", "coinbase:BTC-USD", "kraken:BTC-USD"];
const APPEND_BATCH = 5_000;
const NAIVE_TRADES = 2_000;
const SMALL_BATCH_TRADES = 100_000;
const HOLDER = `bench:${Deno.pid}:replay`;

/** Trade `i` of the synthetic tape: market `i % 3`, ids contiguous per market, ms increasing. */
export function tradeAt(i: number): Trade {
  const start = Date.UTC(2025, 0, 1);
  const ts = start + Math.floor(i / 2);
  const tradeId = String(7_000_000_000 + Math.floor(i / MARKETS.length));
  const priceDigits = i % 9;
  const sizeDigits = 1 + (i % 8);
  const frac = (n: number, digits: number) => String(n % 10 ** digits).padStart(digits, "0");
  return {
    market: MARKETS[i % MARKETS.length],
    tradeId,
    price: `${95_000 + ((i * 7919) % 20_000)}${priceDigits ? "." + frac(i * 31, priceDigits) : ""}`,
    size: `${i % 7 === 0 ? 1 + (i % 3) : 0}.${frac(i * 17 + 1, sizeDigits).replace(/0$/, "1")}`,
    side: i % 2 ? "buy" : "sell",
    ts,
    receivedAt: ts + 15,
    id: entryIdFor(ts, tradeId),
  };
}

function fill(dir: string, count: number): number {
  const box = Journal.open(dir);
  const started = performance.now();
  try {
    for (let i = 0; i < count; i += APPEND_BATCH) {
      const n = Math.min(APPEND_BATCH, count - i);
      const outcome = box.append(Array.from({ length: n }, (_, k) => tradeAt(i + k)));
      if (!outcome.ok) throw new Error(`bench: outbox fill failed: ${outcome.message}`);
    }
    if (box.depth() !== count) throw new Error(`bench: outbox holds ${box.depth()} != ${count}`);
    return (performance.now() - started) / 1000;
  } finally {
    box.close(); // checkpoints the WAL into outbox.sqlite, so a plain copy is complete
  }
}

/** Where one replay spent its time (ms), measured around the real objects' methods. */
interface Breakdown {
  peek: number;
  remove: number;
  lease: number;
  applyJs: number;
  applyWait: number;
  serverScript: number;
  steps: number;
}

interface Variant {
  name: string;
  trades: number;
  seconds: number;
  breakdown?: Breakdown;
}

/** Wraps `obj[name]` (an instance property shadowing the prototype's) to add its time to `add`. */
function timeMethod<T extends object, K extends keyof T>(
  obj: T,
  name: K,
  add: (ms: number) => void,
) {
  const original = (obj[name] as (...args: unknown[]) => unknown).bind(obj);
  (obj as Record<K, unknown>)[name] = (...args: unknown[]) => {
    const started = performance.now();
    try {
      return original(...args);
    } finally {
      add(performance.now() - started);
    }
  };
}

async function scriptUsec(redis: Redis): Promise<number> {
  const info = await redis.info("commandstats");
  let usec = 0;
  for (const m of info.matchAll(/cmdstat_(?:evalsha|eval|script):calls=\d+,usec=(\d+)/g)) {
    usec += Number(m[1]);
  }
  return usec;
}

async function replay(
  template: string,
  primaryUrl: string,
  total: number,
  options: { name: string; trades: number; batchSize?: number; profile?: boolean },
): Promise<Variant> {
  const dir = await Deno.makeTempDir({ prefix: "btcfeed-replay-bench-" });
  const config = resolveConfig({
    primary: primaryUrl,
    dataDir: dir,
    http: "off",
    maxTrades: String(Math.max(1_000_000, total)),
  }, {});
  const target = openTarget(config.primaryUrl, "primary", config);
  try {
    await Deno.copyFile(template, join(dir, "outbox.sqlite"));
    const outbox = Journal.open(dir, { maxTrades: config.outboxMax });
    try {
      await target.redis.connect();
      await target.redis.flushall();
      await target.redis.config("RESETSTAT");
      const b: Breakdown = {
        peek: 0,
        remove: 0,
        lease: 0,
        applyJs: 0,
        applyWait: 0,
        serverScript: 0,
        steps: 0,
      };
      if (options.profile) {
        timeMethod(outbox, "peek", (t) => b.peek += t);
        timeMethod(outbox, "ack", (t) => b.remove += t);
        timeMethod(outbox, "acquireLease", (t) => b.lease += t);
        timeMethod(outbox, "renewLease", (t) => b.lease += t);
        const apply = target.replayWriter.apply.bind(target.replayWriter);
        target.replayWriter.apply = (trades, isConsolidated, o) => {
          const started = performance.now();
          const p = apply(trades, isConsolidated, o);
          const sent = performance.now();
          b.applyJs += sent - started;
          return p.finally(() => b.applyWait += performance.now() - sent);
        };
      }
      const replayer = new Replayer(outbox, target.replayWriter, () => false, {
        holder: HOLDER,
        untilSeq: options.trades,
        ...(options.batchSize ? { batchSize: options.batchSize } : {}),
      });
      let applied = 0;
      const started = performance.now();
      for (;;) {
        const step = await replayer.step();
        if (step.kind === "drained") break;
        if (step.kind === "busy") throw new Error("bench: replay lease busy");
        if (step.duplicates || step.deadLettered) throw new Error("bench: unexpected duplicates");
        applied += step.applied;
        b.steps++;
      }
      const seconds = (performance.now() - started) / 1000;
      b.serverScript = (await scriptUsec(target.redis)) / 1000;
      await verify(target.redis, outbox, applied, options.trades, total);
      return {
        name: options.name,
        trades: options.trades,
        seconds,
        breakdown: options.profile ? b : undefined,
      };
    } finally {
      outbox.close();
    }
  } finally {
    closeTarget(target);
    await Deno.remove(dir, { recursive: true });
  }
}

async function verify(redis: Redis, outbox: Journal, applied: number, want: number, total: number) {
  let onPrimary = 0;
  for (const m of MARKETS) onPrimary += await redis.xlen(marketKeys("btcfeed", m).trades);
  const left = outbox.depth();
  if (applied !== want || onPrimary !== want || left !== total - want) {
    throw new Error(
      `bench: replay lost trades: applied ${applied}, primary streams hold ${onPrimary}, ` +
        `outbox holds ${left}; expected ${want} replayed and ${total - want} left`,
    );
  }
}

function breakdownTable(v: Variant): string {
  const b = v.breakdown!;
  const totalMs = v.seconds * 1000;
  const other = totalMs - b.peek - b.remove - b.lease - b.applyJs - b.applyWait;
  const row = (name: string, t: number) => [
    name,
    ms(t),
    `${((t / totalMs) * 100).toFixed(1)}%`,
    ms(t / b.steps),
  ];
  return table(["where the time went (batch 5000)", "ms", "share", "ms/step"], [
    row("SQLite peek (read + decode rows)", b.peek),
    row("SQLite remove (DELETE, fsync)", b.remove),
    row("SQLite lease acquire + renew", b.lease),
    row("apply: JS side (validate, encode, send)", b.applyJs),
    row("apply: waiting for Redis", b.applyWait),
    row("  of which server script time", b.serverScript),
    row("other (event loop, GC)", other),
  ]);
}

/** Fills an outbox, replays it three ways into a fresh redis-server, prints rates and ratios. */
export async function run(): Promise<void> {
  const total = envInt("BTCFEED_BENCH_REPLAY_TRADES", 1_000_000);
  const server = await startRedis();
  const templateDir = await Deno.makeTempDir({ prefix: "btcfeed-replay-template-" });
  try {
    const fillSeconds = fill(templateDir, total);
    const template = join(templateDir, "outbox.sqlite");
    const bytes = (await Deno.stat(template)).size;
    const variants: Variant[] = [];
    variants.push(
      await replay(template, server.url, total, {
        name: "Replayer batchSize 1 (per-trade await)",
        trades: Math.min(NAIVE_TRADES, total),
        batchSize: 1,
      }),
    );
    variants.push(
      await replay(template, server.url, total, {
        name: "Replayer batchSize 100",
        trades: Math.min(SMALL_BATCH_TRADES, total),
        batchSize: 100,
      }),
    );
    variants.push(
      await replay(template, server.url, total, {
        name: "Replayer default (batchSize 5000)",
        trades: total,
        profile: true,
      }),
    );
    const rate = (v: Variant) => v.trades / v.seconds;
    console.log(
      `replay into redis-server on 127.0.0.1 (persistence off), ${navigator.hardwareConcurrency} ` +
        `cores; outbox of ${int(total)} trades, ${MARKETS.length} markets, ` +
        `${(bytes / 1e6).toFixed(0)} MB, filled in ${fillSeconds.toFixed(1)} s ` +
        `(${int(total / fillSeconds)} trades/s, append x${APPEND_BATCH}, synchronous=FULL)`,
    );
    console.log(table(
      ["variant", "trades", "seconds", "trades/s", "vs batch 1", "vs batch 100"],
      variants.map((v) => [
        v.name,
        int(v.trades),
        v.seconds.toFixed(2),
        int(rate(v)),
        ratio(rate(v) / rate(variants[0])),
        ratio(rate(v) / rate(variants[1])),
      ]),
    ));
    console.log("every variant verified: primary streams hold exactly the replayed trades");
    const main = variants[2];
    console.log(breakdownTable(main));
    const usPerTrade = (main.breakdown!.serverScript * 1000) / main.trades;
    console.log(
      `the server spends ${usPerTrade.toFixed(1)} us per trade in the apply script: one ` +
        `redis-server cannot apply more than ~${int(1e6 / usPerTrade)} trades/s, however fast ` +
        `the client side is`,
    );
  } finally {
    await server.stop();
    await Deno.remove(templateDir, { recursive: true });
  }
}

if (import.meta.main) await run();
