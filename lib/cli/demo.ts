/**
 * `btcfeed demo`: one command, no network, no configuration. Plays the bundled recording of six
 * exchanges through the real pipeline (`stream --replay`) into a throw-away `redis-server` of
 * its own (or into the outbox alone when there is none), with the dashboard, then prints the
 * `redis-cli` commands that read what it wrote.
 *
 * Guarantees: everything lives in a temporary directory (removed at the end) unless `--data-dir`
 * is given; Ctrl-C or SIGTERM at any moment stops the stream, the dashboard and the redis-server
 * (by pid) before it returns, so nothing it started is left running. Narration goes to stderr;
 * the dashboard (or plain progress lines off a terminal) and the summary go to stdout.
 */

import { Command } from "@commander-js/extra-typings";
import { join } from "node:path";
import { ConfigError, resolveConfig } from "../config.ts";
import { log } from "../log.ts";
import { runStream } from "./stream.ts";
import { runMonitor } from "../monitor/loop.ts";
import { readStatus } from "../runtime/status.ts";
import { sleep } from "../time.ts";
import { type DemoRedis, freePort, startDemoRedis } from "../demo/redis_process.ts";
import { progressLine, redisCliLines, resultLines } from "../demo/report.ts";

/** The recording, bundled with the program (`deno compile --include demo/recording.ndjson`). */
const RECORDING = new URL("../../demo/recording.ndjson", import.meta.url);
const DEFAULT_SPEED = 5;
const PROGRESS_EVERY_MS = 2_000;

/** Options of {@link runDemo}. */
export interface DemoOptions {
  /** Recorded time runs this many times faster than the wall clock. */
  speed: number;
  /** Where to keep everything; null: a temporary directory, removed at the end. */
  dataDir: string | null;
  /** Full-screen dashboard (stdout is a terminal) instead of progress lines. */
  tty: boolean;
}

/** The `demo` subcommand. */
export function demoCommand() {
  return new Command("demo")
    .description("replay a bundled recording of six exchanges into a throw-away Redis (no network)")
    .option("--speed <n>", `recorded time runs n times faster (default ${DEFAULT_SPEED})`)
    .option("--data-dir <dir>", "keep its Redis data, outbox and status here (default: a temp dir)")
    .action(async (flags) => {
      await runDemo({
        speed: parseSpeed(flags.speed),
        dataDir: flags.dataDir ?? null,
        tty: Deno.stdout.isTerminal(),
      });
    });
}

function parseSpeed(text: string | undefined): number {
  if (text === undefined) return DEFAULT_SPEED;
  const n = Number(text);
  if (!/^\d+(\.\d+)?$/.test(text) || !(n > 0) || n > 1e6) {
    throw new ConfigError(`--speed: "${text}" must be a positive number (1 = the recorded pace)`);
  }
  return n;
}

/** Runs the demo; see the module comment. */
export async function runDemo(o: DemoOptions): Promise<void> {
  const root = o.dataDir ?? await Deno.makeTempDir({ prefix: "btcfeed-demo-" });
  const interrupted = new AbortController();
  const onSignal = () => interrupted.abort();
  const signals: Deno.Signal[] = ["SIGINT", "SIGTERM"];
  for (const sig of signals) Deno.addSignalListener(sig, onSignal);
  let redis: DemoRedis | null = null;
  try {
    await Deno.mkdir(root, { recursive: true });
    const recording = join(root, "recording.ndjson");
    const bytes = await Deno.readFile(RECORDING);
    await Deno.writeFile(recording, bytes);
    redis = await startDemoRedis(join(root, "redis"), o.dataDir !== null);
    if (redis) say(`redis-server pid ${redis.pid} on port ${redis.port} (${join(root, "redis")})`);
    else {
      say(
        "no redis-server on the PATH (get one: apt-get install redis-server, or brew install " +
          "redis); running on the outbox alone",
      );
    }
    const spanS = recordedSeconds(new TextDecoder().decode(bytes));
    say(
      `replaying ${Math.round(spanS)} s of six exchanges at ×${o.speed} ` +
        `(about ${Math.ceil(spanS / o.speed)} s); Ctrl-C stops`,
    );
    const dataDir = join(root, "stream");
    // The environment is ignored on purpose: the demo needs no configuration and takes none.
    const config = resolveConfig({
      primary: redis?.url ?? `redis://127.0.0.1:${freePort()}`,
      dataDir,
      http: "off",
      replay: recording,
    }, {});
    config.replaySpeed = o.speed;
    log.configure({ format: o.tty ? "pretty" : "json", level: o.tty ? "error" : "warn" });
    if (!interrupted.signal.aborted) {
      await withDashboard(
        dataDir,
        o.tty,
        interrupted.signal,
        () => runStream(config, { drainReplay: redis !== null }),
      );
    }
    const status = readStatus(dataDir);
    print(...resultLines(status));
    if (redis) {
      const market = Object.keys(status?.markets ?? {})[0] ?? "binance:BTC-USDT";
      print(...redisCliLines(redis.port, config.prefix, market));
      if (o.tty && !interrupted.signal.aborted) {
        print(`redis-server stays up on port ${redis.port} for these; Ctrl-C stops it.`);
        await new Promise((r) => interrupted.signal.addEventListener("abort", r));
      }
    } else {
      print(`no Redis: the trades are in the outbox (${status?.outbox.depth ?? 0} trades).`);
    }
  } finally {
    await cleanUp(redis, root, o.dataDir !== null);
    for (const sig of signals) Deno.removeSignalListener(sig, onSignal);
  }
}

/** Stops the redis-server and removes the temporary directory (or says what stays). */
async function cleanUp(redis: DemoRedis | null, root: string, keep: boolean): Promise<void> {
  await redis?.stop();
  if (redis) say(`redis-server pid ${redis.pid} stopped`);
  if (keep) {
    say(
      `kept in ${root}: redis/ (its data: redis-server --dir ${join(root, "redis")} ` +
        `--appendonly yes), stream/ (outbox, gaps and status), recording.ndjson`,
    );
  } else {
    await Deno.remove(root, { recursive: true }).catch(() => {});
    say(`removed ${root}`);
  }
}

/** Runs `work` with the dashboard on a terminal, or plain progress lines off one. */
async function withDashboard(
  dataDir: string,
  tty: boolean,
  interrupted: AbortSignal,
  work: () => Promise<void>,
): Promise<void> {
  const done = new AbortController();
  const stop = () => done.abort();
  interrupted.addEventListener("abort", stop);
  const view = tty
    ? runMonitor({
      dataDir,
      signal: done.signal,
      tty: true,
      color: !Deno.env.get("NO_COLOR"),
      // The recording's trades are old by the wall clock: do not flag them all as stale.
      maxAgeSeconds: Number.MAX_SAFE_INTEGER,
    })
    : progress(dataDir, done.signal);
  try {
    await work();
  } finally {
    done.abort();
    interrupted.removeEventListener("abort", stop);
    await view;
  }
}

async function progress(dataDir: string, signal: AbortSignal): Promise<void> {
  while (!signal.aborted) {
    await sleep(PROGRESS_EVERY_MS, signal);
    if (!signal.aborted) print(progressLine(readStatus(dataDir)));
  }
}

/** Seconds between the recording's first and last line. */
function recordedSeconds(text: string): number {
  const lines = text.trimEnd().split("\n");
  const t = (line: string) => (JSON.parse(line) as { t: number }).t;
  return (t(lines[lines.length - 1]) - t(lines[0])) / 1000;
}

const encoder = new TextEncoder();

/** Writes to stdout; a closed stdout must not keep the demo from cleaning up. */
function print(...lines: string[]): void {
  writeQuietly(Deno.stdout, lines.map((l) => l + "\n").join(""));
}

/** Narration on stderr, as quietly tolerant of a closed terminal. */
function say(line: string): void {
  writeQuietly(Deno.stderr, `demo: ${line}\n`);
}

function writeQuietly(out: { writeSync(p: Uint8Array): number }, text: string): void {
  try {
    const bytes = encoder.encode(text);
    for (let off = 0; off < bytes.length;) off += out.writeSync(bytes.subarray(off));
  } catch { /* the terminal is gone: nobody to show it to */ }
}
