/**
 * Memory over a long stream: 1,000,000 trades (`BTCFEED_BENCH_RSS_TRADES`) from a fake Binance
 * through the REAL `btcfeed stream` process into a real redis-server, the process's RSS sampled
 * every 250 ms from `/proc/<pid>/status` (bench/_e2e_rig.ts), side by side with the minimal
 * direct client (WebSocket → XADD) on the same tape, same server, same run.
 *
 * Figures per client: RSS when the first trade was visible, after warm-up (the first 10% of
 * the trades: JIT, connection pools, the journal's page cache and prepared statements reach
 * their size), half-way, at the end, the largest after warm-up, and the drift = end − after
 * warm-up. The aim (issue 10): btcfeed drifts by at most ±10 MB after warm-up. The tape runs at
 * `BTCFEED_BENCH_RSS_RATE` trades/s (default 10,000: a very busy real market, and slow enough
 * that neither client queues trades here; a client that falls behind buffers the backlog in
 * its socket and shows it as RSS).
 *
 * Run: `deno task bench rss`.
 */

import { startRedis } from "../tests/support/redis_server.ts";
import { type ClientKind, type RssSample, runPath } from "./_e2e_rig.ts";
import { envInt, int, table } from "./_table.ts";

/** Options of {@link run}. */
export interface RssOptions {
  /** @default 1,000,000 */
  trades: number;
  /** @default 10,000 */
  ratePerSec: number;
  /** @default 250 */
  sampleMs: number;
}

/** One client's RSS figures, MB. */
export interface RssFigures {
  kind: ClientKind;
  trades: number;
  seconds: number;
  samples: number;
  startMb: number;
  warmMb: number;
  /** When half the trades were visible: warm → half → end shows whether growth levels off. */
  halfMb: number;
  endMb: number;
  maxAfterWarmMb: number;
  driftMb: number;
}

const mb = (kb: number) => kb / 1024;

function figures(kind: ClientKind, trades: number, seconds: number, all: RssSample[]): RssFigures {
  const s = all.slice(Math.max(0, all.findIndex((x) => x.seen > 0))); // from the first trade on
  if (s.length < 2) throw new Error(`${kind}: only ${s.length} RSS samples`);
  const warmAt = s.findIndex((x) => x.seen >= trades / 10);
  const warm = s[warmAt < 0 ? 0 : warmAt];
  const after = s.slice(warmAt < 0 ? 0 : warmAt);
  const end = s[s.length - 1];
  const half = s.find((x) => x.seen >= trades / 2) ?? end;
  return {
    kind,
    trades,
    seconds,
    samples: s.length,
    startMb: mb(s[0].rssKb),
    warmMb: mb(warm.rssKb),
    halfMb: mb(half.rssKb),
    endMb: mb(end.rssKb),
    maxAfterWarmMb: mb(Math.max(...after.map((x) => x.rssKb))),
    driftMb: mb(end.rssKb - warm.rssKb),
  };
}

/** Streams the tape through both clients, prints their RSS side by side, returns the figures. */
export async function run(options: Partial<RssOptions> = {}): Promise<RssFigures[]> {
  const o: RssOptions = {
    trades: envInt("BTCFEED_BENCH_RSS_TRADES", 1_000_000),
    ratePerSec: envInt("BTCFEED_BENCH_RSS_RATE", 10_000),
    sampleMs: 250,
    ...options,
  };
  const server = await startRedis();
  const out: RssFigures[] = [];
  try {
    for (const kind of ["direct", "btcfeed"] as const) {
      const r = await runPath({ kind, redisUrl: server.url, ...o });
      out.push(figures(kind, o.trades, r.seconds, r.samples));
    }
  } finally {
    await server.stop();
  }
  console.log(
    `RSS of the client process over ${int(o.trades)} trades at ${int(o.ratePerSec)}/s ` +
      `(fake Binance -> client -> redis-server on 127.0.0.1); warm-up = first 10% of the trades`,
  );
  const f = (n: number) => n.toFixed(1);
  const signed = (n: number) => `${n >= 0 ? "+" : ""}${f(n)}`;
  console.log(table(
    ["client", "seconds", "start MB", "warm MB", "half MB", "end MB", "max after warm", "drift MB"],
    out.map((r) => [
      r.kind,
      r.seconds.toFixed(1),
      f(r.startMb),
      f(r.warmMb),
      f(r.halfMb),
      f(r.endMb),
      f(r.maxAfterWarmMb),
      signed(r.driftMb),
    ]),
  ));
  const [d, b] = out;
  const half = (r: RssFigures) => signed(r.endMb - r.halfMb);
  console.log(
    `btcfeed drift ${signed(b.driftMb)} MB after warm-up (aim ±10), ${half(b)} MB over the ` +
      `second half; direct client ${signed(d.driftMb)} MB, ${half(d)} MB; btcfeed holds ` +
      `${f(b.endMb - d.endMb)} MB more at the end`,
  );
  return out;
}

if (import.meta.main) await run();
