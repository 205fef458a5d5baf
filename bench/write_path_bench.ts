/**
 * Write-path benchmark against a real redis-server started for the run.
 *
 * Measures, in one run and on the same server:
 * - naive: what the original service did per trade, each command awaited in turn
 *   (PING, SET price, SET time, LPUSH history, LTRIM, PUBLISH);
 * - script/trade: the apply script once per trade (chunkSize 1), pipelined per batch;
 * - TradeWriter: chunks of 100 trades per script call, batches of 1000-5000 trades per pipeline.
 * Both script variants do strictly more work than the naive loop (stream entry, last, candles,
 * consolidated price, trade channel AND the legacy keys). Figures are trades per second and the
 * ratio to the naive baseline, printed side by side: once over loopback (where a round trip costs
 * ~50-70 us, so the naive loop is as fast as it can ever be), and once through the test TCP proxy
 * (one extra hop, like a primary on another host; `BENCH_LATENCY_MS` adds delay each way, but the
 * proxy's timers make any delay at least ~2 ms each way).
 *
 * Then, on loopback, the write path with the journal on vs off and the journal's append cost
 * (bench/journal_write_bench.ts).
 *
 * Run: `deno run -A bench/write_path_bench.ts` (or `run()` from bench/main.ts).
 */

import type { Redis } from "ioredis";
import { createRedis } from "../lib/redis/client.ts";
import { LEGACY_KEYS } from "../lib/redis/keys.ts";
import { TradeWriter } from "../lib/redis/writer.ts";
import { entryIdFor, type Trade } from "../lib/trade.ts";
import { startRedis } from "../tests/support/redis_server.ts";
import { startProxy } from "../tests/support/tcp_proxy.ts";
import { int, ratio, table } from "./_table.ts";
import { runJournal } from "./journal_write_bench.ts";

const LATENCY_MS = Number(Deno.env.get("BENCH_LATENCY_MS") ?? 0);
const MARKETS = ["binance:BTC-USDT", "coinbase:BTC-USD", "kraken:BTC-USD", "bitstamp:BTC-USD"];

interface Row {
  name: string;
  trades: number;
  seconds: number;
}

/** `count` trades spread over the markets in arrival order (ids increase per market). */
function makeTrades(count: number): Trade[] {
  const start = Date.UTC(2025, 0, 1);
  return Array.from({ length: count }, (_, i): Trade => {
    const ts = start + i * 3;
    const tradeId = String(1_000_000 + i);
    return {
      market: MARKETS[i % MARKETS.length],
      tradeId,
      price: `${100000 + (i % 5000)}.${String(i % 100).padStart(2, "0")}`,
      size: `0.${String((i % 99999) + 1).padStart(5, "0")}`,
      side: i % 2 ? "buy" : "sell",
      ts,
      receivedAt: ts + 20,
      id: entryIdFor(ts, tradeId),
    };
  });
}

async function naive(redis: Redis, trades: Trade[]): Promise<void> {
  for (const t of trades) {
    const json = JSON.stringify({ price: Number(t.price), timestamp: t.ts / 1000, volume: t.size });
    await redis.ping();
    await redis.set(LEGACY_KEYS.price, t.price);
    await redis.set(LEGACY_KEYS.updateTime, String(Math.floor(t.ts / 1000)));
    await redis.lpush(LEGACY_KEYS.history, json);
    await redis.ltrim(LEGACY_KEYS.history, 0, 999);
    await redis.publish(LEGACY_KEYS.channel, json);
  }
}

async function writer(
  redis: Redis,
  trades: Trade[],
  chunkSize: number,
  batch: () => number,
): Promise<void> {
  const w = new TradeWriter(redis, { chunkSize, legacyKeys: true });
  const consolidated = (m: string) => m === MARKETS[0];
  for (let i = 0; i < trades.length;) {
    const n = batch();
    const r = await w.apply(trades.slice(i, i + n), consolidated);
    if (r.applied !== Math.min(n, trades.length - i)) throw new Error("bench: not all applied");
    i += n;
  }
}

async function time(name: string, trades: number, fn: () => Promise<void>): Promise<Row> {
  const start = performance.now();
  await fn();
  return { name, trades, seconds: (performance.now() - start) / 1000 };
}

function format(rows: Row[]): string {
  const base = rows[0].trades / rows[0].seconds;
  return table(
    ["method", "trades", "seconds", "trades/s", "vs naive"],
    rows.map((r) => {
      const rate = r.trades / r.seconds;
      return [r.name, int(r.trades), r.seconds.toFixed(2), int(rate), ratio(rate / base)];
    }),
  );
}

interface Counts {
  naive: number;
  perTrade: number;
  writer: number;
}

/** The three measurements through `redis`, each on an empty database. */
async function measure(redis: Redis, counts: Counts): Promise<Row[]> {
  const rows: Row[] = [];
  await redis.flushall();
  const few = makeTrades(counts.naive);
  rows.push(await time("naive (6 awaited cmds/trade)", counts.naive, () => naive(redis, few)));
  await redis.flushall();
  const perTrade = makeTrades(counts.perTrade);
  rows.push(
    await time(
      "script per trade, pipelined x1000",
      counts.perTrade,
      () => writer(redis, perTrade, 1, () => 1000),
    ),
  );
  await redis.flushall();
  const many = makeTrades(counts.writer);
  const sizes = [1000, 2500, 5000, 2000, 4000];
  let k = 0;
  rows.push(
    await time(
      "TradeWriter chunk 100, 1000-5000",
      counts.writer,
      () => writer(redis, many, 100, () => sizes[k++ % sizes.length]),
    ),
  );
  return rows;
}

async function medianPingMs(redis: Redis): Promise<number> {
  const samples: number[] = [];
  for (let i = 0; i < 21; i++) {
    const start = performance.now();
    await redis.ping();
    samples.push(performance.now() - start);
  }
  return samples.sort((a, b) => a - b)[10];
}

/**
 * Runs the measurements on a fresh redis-server, first over loopback, then through the test TCP
 * proxy, and prints both tables.
 */
export async function run(): Promise<void> {
  const server = await startRedis();
  const proxy = await startProxy({ hostname: "127.0.0.1", port: server.port });
  const local = createRedis(server.url, { commandTimeoutMs: 60_000 });
  const remote = createRedis(proxy.url(), { commandTimeoutMs: 60_000 });
  try {
    await local.connect();
    const version = /redis_version:(\S+)/.exec(await local.info("server"))?.[1] ?? "?";
    console.log(
      `write path: redis ${version}, ${navigator.hardwareConcurrency} cores, ` +
        `${MARKETS.length} markets, legacy keys on (the script variants also write stream, ` +
        `last, candles, P:btc:last, P:trades)`,
    );
    const rtt = await medianPingMs(local);
    console.log(`\nloopback (PING ${rtt.toFixed(3)} ms)`);
    console.log(format(await measure(local, { naive: 3_000, perTrade: 30_000, writer: 200_000 })));
    await runJournal(local, server.url, makeTrades);

    proxy.latency(LATENCY_MS);
    await remote.connect();
    const far = await medianPingMs(remote);
    console.log(
      `\nthrough the test TCP proxy, +${LATENCY_MS} ms each way (PING ${far.toFixed(3)} ms)`,
    );
    console.log(
      format(
        await measure(remote, {
          naive: LATENCY_MS > 0 ? 200 : 1_000,
          perTrade: 30_000,
          writer: 200_000,
        }),
      ),
    );
  } finally {
    local.disconnect();
    remote.disconnect();
    await proxy.stop();
    await server.stop();
  }
}

if (import.meta.main) await run();
