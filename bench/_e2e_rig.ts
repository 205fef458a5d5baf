/**
 * The end-to-end rig of the latency and RSS benchmarks (private to bench/): a fake Binance
 * (tests/support, the real protocol) publishing a tape, a real redis-server, and one client
 * process between them — the REAL `btcfeed stream` (spawned as `deno task btcfeed` runs it) or
 * the minimal direct client (`_direct_client.ts`: WebSocket → one XADD per trade). Both write
 * stream entries with the same IDs (`<ts>-<tradeId>`), so one reader serves both.
 *
 * Guarantees the benchmarks rely on:
 * - the fake stamps every trade's emission (`performance.now()` just before the send) and the
 *   reader stamps when `XREAD BLOCK` returned it, both in this process: one clock;
 * - the tape starts only once the client subscribed (the fake pauses while nobody listens), so
 *   start-up time is not latency and no trade is missed;
 * - `run` fails unless the reader saw every trade of the tape exactly once, in order;
 * - RSS is sampled from `/proc/<pid>/status` with `cat` (VmRSS, VmHWM), every `sampleMs`;
 * - the client process and the fake are stopped before `run` returns, also on failure.
 */

import { Redis } from "ioredis";
import { startFakeExchange } from "../tests/support/fake_exchange.ts";
import { type CliProcess, spawnCli } from "../tests/support/cli.ts";
import { marketKeys } from "../lib/redis/keys.ts";

/** Which process sits between the fake exchange and Redis. */
export type ClientKind = "btcfeed" | "direct";

/** Options of {@link runPath}. */
export interface PathOptions {
  kind: ClientKind;
  /** The redis-server both write to (flushed before the run). */
  redisUrl: string;
  trades: number;
  ratePerSec: number;
  /** RSS sampling period; 0: none. @default 0 */
  sampleMs?: number;
  /** Gives up when the reader has not seen every trade this long after the tape ended. */
  settleMs?: number;
}

/** One RSS sample: when, how many trades were visible, VmRSS and VmHWM in kB. */
export interface RssSample {
  atMs: number;
  seen: number;
  rssKb: number;
  hwmKb: number;
}

/** What one run measured: per tape index, emission and visibility times (ms, one clock). */
export interface PathResult {
  kind: ClientKind;
  sentAt: Float64Array;
  seenAt: Float64Array;
  samples: RssSample[];
  seconds: number;
}

const DIRECT_CLIENT = new URL("./_direct_client.ts", import.meta.url).pathname;
const DIRECT_KEY = "direct:{binance:BTC-USDT}:trades";

/** VmRSS and VmHWM of `pid` in kB, read with `cat` (null once it exited). */
export async function readRss(pid: number): Promise<{ rssKb: number; hwmKb: number } | null> {
  const out = await new Deno.Command("cat", { args: [`/proc/${pid}/status`], stderr: "null" })
    .output();
  if (!out.success) return null;
  const text = new TextDecoder().decode(out.stdout);
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(text)?.[1]);
  return { rssKb: kb("VmRSS"), hwmKb: kb("VmHWM") };
}

/** Starts the client process of `kind` between the fake at `wsUrl`/`restUrl` and Redis. */
/**
 * `BTCFEED_BENCH_V8_FLAGS` (e.g. `--max-old-space-size=32`) is given to both clients as
 * `DENO_V8_FLAGS`, never to the bench itself: with a capped heap, RSS follows what a client keeps
 * rather than how lazily V8 collects.
 */
const V8_FLAGS = Deno.env.get("BTCFEED_BENCH_V8_FLAGS");
const V8_ENV: Record<string, string> = V8_FLAGS ? { DENO_V8_FLAGS: V8_FLAGS } : {};

function startClient(
  kind: ClientKind,
  wsUrl: string,
  restUrl: string,
  redisUrl: string,
  dir: string,
) {
  if (kind === "btcfeed") {
    const p = spawnCli([
      ..."stream --exchanges binance --http off --quiet".split(" "),
      ...["--primary", redisUrl, "--data-dir", dir],
      ...["--exchange-url", `binance=${wsUrl}`, "--rest-url", `binance=${restUrl}`],
    ], { BTCFEED_LOG_LEVEL: "warn", ...V8_ENV });
    return { pid: p.pid, stop: () => stopCli(p) };
  }
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "--cached-only",
      DIRECT_CLIENT,
      `${wsUrl}/ws/btcusdt@trade`,
      redisUrl,
      DIRECT_KEY,
    ],
    env: V8_ENV,
    stdin: "null",
    stdout: "null",
  }).spawn();
  return {
    pid: child.pid,
    stop: async () => {
      try {
        child.kill("SIGTERM");
      } catch { /* exited */ }
      await child.status;
    },
  };
}

async function stopCli(p: CliProcess): Promise<void> {
  const status = await p.stop();
  if (status.code !== 0) {
    throw new Error(`btcfeed stream exited ${status.code}:\n${p.lines.slice(-15).join("\n")}`);
  }
}

/** Runs one tape through one client; see the module comment. */
export async function runPath(o: PathOptions): Promise<PathResult> {
  const sentAt = new Float64Array(o.trades);
  const seenAt = new Float64Array(o.trades);
  const fake = await startFakeExchange({
    exchange: "binance",
    trades: o.trades,
    ratePerSec: o.ratePerSec,
    startMicros: Date.now() * 1000,
    onPublish: (from, to, at) => sentAt.fill(at, from, to),
  });
  const index = new Map(fake.tape.map((t, i) => [`${t.ts}-${t.tradeId}`, i]));
  const key = o.kind === "direct" ? DIRECT_KEY : marketKeys("btcfeed", fake.tape[0].market).trades;
  const reader = new Redis(o.redisUrl, { lazyConnect: true });
  const dir = await Deno.makeTempDir({ prefix: "btcfeed-e2e-bench-" });
  let client: { pid: number; stop(): Promise<void> } | null = null;
  const samples: RssSample[] = [];
  let seen = 0;
  try {
    await reader.connect();
    await reader.flushall();
    const started = performance.now();
    client = startClient(o.kind, fake.wsUrl, fake.restUrl, o.redisUrl, dir);
    const sampler = o.sampleMs ? sampleRss(client.pid, o.sampleMs, () => seen, samples) : null;
    let lastId = "0-0";
    let deadline = Infinity;
    fake.done.then(() => deadline = performance.now() + (o.settleMs ?? 30_000));
    while (seen < o.trades) {
      if (performance.now() > deadline) {
        throw new Error(`${o.kind}: ${seen} of ${o.trades} trades visible after the tape ended`);
      }
      const reply = await reader.xread("COUNT", 10_000, "BLOCK", 500, "STREAMS", key, lastId);
      const at = performance.now();
      for (const [id] of reply?.[0]?.[1] ?? []) {
        const i = index.get(id);
        if (i !== seen) throw new Error(`${o.kind}: entry ${id} is tape #${i}, expected #${seen}`);
        seenAt[seen++] = at;
        lastId = id;
      }
    }
    const seconds = (performance.now() - started) / 1000;
    await sampler?.stop();
    return { kind: o.kind, sentAt, seenAt, samples, seconds };
  } finally {
    await client?.stop();
    reader.disconnect();
    await fake.stop();
    await Deno.remove(dir, { recursive: true });
  }
}

function sampleRss(pid: number, everyMs: number, seen: () => number, out: RssSample[]) {
  let running = true;
  const loop = (async () => {
    while (running) {
      const at = performance.now();
      const r = await readRss(pid);
      if (!r) return;
      out.push({ atMs: at, seen: seen(), ...r });
      await new Promise((res) => setTimeout(res, everyMs));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      const r = await readRss(pid);
      if (r) out.push({ atMs: performance.now(), seen: seen(), ...r });
    },
  };
}

/** The `q`-quantile (0..1) of `values` (nearest rank); NaN when empty. */
export function quantile(values: Float64Array, q: number): number {
  if (values.length === 0) return NaN;
  const s = values.slice().sort();
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))];
}
