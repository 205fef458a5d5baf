/**
 * End-to-end latency: exchange emission → visible to a Redis reader, through the REAL
 * `btcfeed stream` process, against the minimal direct client (WebSocket → one XADD per trade)
 * in the same run, same fake Binance, same redis-server (bench/_e2e_rig.ts).
 *
 * Per rate (2,000 and 10,000 trades/s by default), the direct client runs first, then btcfeed,
 * each on a fresh tape of `rate × BTCFEED_BENCH_LATENCY_SECONDS` trades (default 10 s). The first
 * second of each tape is warm-up and not counted. Latency is `XREAD BLOCK` returning the entry
 * minus the fake's send stamp, one clock (this process): it includes the fake's and the reader's
 * event loop, equally for both clients, so the difference is what btcfeed adds — parsing,
 * validation, the journal's group commit (fsync with the default `--journal-sync full`), the
 * apply script (stream, last, candles, pub/sub) and its acknowledgement.
 *
 * Run: `deno task bench latency`.
 */

import { startRedis } from "../tests/support/redis_server.ts";
import { type ClientKind, quantile, runPath } from "./_e2e_rig.ts";
import { envInt, ms, table } from "./_table.ts";

/** Options of {@link run}. */
export interface LatencyOptions {
  /** @default [2000, 10000] */
  rates: number[];
  /** Seconds of tape per rate and client, warm-up second included. @default 10 */
  seconds: number;
}

/** One client at one rate: latency quantiles in ms. */
export interface LatencyFigures {
  kind: ClientKind;
  rate: number;
  trades: number;
  p50: number;
  p99: number;
  max: number;
}

function figures(kind: ClientKind, rate: number, sent: Float64Array, seen: Float64Array) {
  const from = Math.min(rate, Math.floor(sent.length / 2)); // the warm-up second
  const lat = new Float64Array(sent.length - from);
  for (let i = from; i < sent.length; i++) lat[i - from] = seen[i] - sent[i];
  return {
    kind,
    rate,
    trades: lat.length,
    p50: quantile(lat, 0.5),
    p99: quantile(lat, 0.99),
    max: quantile(lat, 1),
  };
}

/** `+1.5` / `-0.3`: a difference of milliseconds. */
function signedMs(n: number): string {
  return `${n >= 0 ? "+" : "-"}${ms(Math.abs(n))}`;
}

/** Measures both clients at every rate and prints them side by side; returns the figures. */
export async function run(options: Partial<LatencyOptions> = {}): Promise<LatencyFigures[]> {
  const o: LatencyOptions = {
    rates: [2_000, 10_000],
    seconds: envInt("BTCFEED_BENCH_LATENCY_SECONDS", 10),
    ...options,
  };
  const server = await startRedis();
  const out: LatencyFigures[] = [];
  try {
    for (const rate of o.rates) {
      for (const kind of ["direct", "btcfeed"] as const) {
        const r = await runPath({
          kind,
          redisUrl: server.url,
          trades: rate * o.seconds,
          ratePerSec: rate,
        });
        out.push(figures(kind, rate, r.sentAt, r.seenAt));
      }
    }
  } finally {
    await server.stop();
  }
  console.log(
    `emission (fake Binance) -> visible to XREAD BLOCK, redis-server on 127.0.0.1, ` +
      `${navigator.hardwareConcurrency} cores; ${o.seconds} s per rate and client, first second ` +
      `not counted; btcfeed with its defaults (journal on, --journal-sync full)`,
  );
  const rows = o.rates.map((rate) => {
    const d = out.find((f) => f.rate === rate && f.kind === "direct")!;
    const b = out.find((f) => f.rate === rate && f.kind === "btcfeed")!;
    return [
      `${rate}/s`,
      `${ms(d.p50)} / ${ms(d.p99)} / ${ms(d.max)}`,
      `${ms(b.p50)} / ${ms(b.p99)} / ${ms(b.max)}`,
      `${signedMs(b.p50 - d.p50)} / ${signedMs(b.p99 - d.p99)}`,
    ];
  });
  console.log(table(
    [
      "rate",
      "direct p50 / p99 / max ms",
      "btcfeed p50 / p99 / max ms",
      "btcfeed - direct p50 / p99",
    ],
    rows,
  ));
  return out;
}

if (import.meta.main) await run();
