/**
 * A seeded random fault schedule against the real `btcfeed stream` (Kafka's system test is the
 * model): while the fake exchange publishes contiguous trades, faults hit the primary, the
 * failover Redis, the network and btcfeed itself. Afterwards everything heals and the primary
 * must hold exactly trades 1..N, in order, with exact candles.
 */

import { Rig, sleep } from "../support/rig.ts";
import { runCli, spawnCli, waitFor } from "../support/cli.ts";
import { describeVerdict, type Verdict } from "../support/verify.ts";
import { seededRandom } from "../support/rng.ts";
import { freePort } from "../support/redis_server.ts";
import { join } from "node:path";

export interface ChaosOptions {
  seed: number;
  /** How long faults are injected. */
  durationMs: number;
  ratePerSec: number;
  log?: (line: string) => void;
}

export interface ChaosResult {
  trades: number;
  faults: number;
  faultCounts: Record<string, number>;
  verdict: Verdict;
  deadLetters: number;
  line: string;
}

type Fault = (rig: Rig, holdMs: number) => Promise<void>;

const FAULTS: Record<string, Fault> = {
  "primary kill -9": async (rig, ms) => {
    rig.primary.kill("SIGKILL");
    await sleep(ms);
    await rig.primary.restart();
  },
  "primary restart empty": async (rig, ms) => {
    // Lost with its data (no AOF, no RDB), as a cache without persistence: the journal repairs it.
    rig.primary.kill("SIGKILL");
    await rig.primary.exited;
    for (const f of ["appendonlydir", "dump.rdb"]) {
      await Deno.remove(join(rig.primary.dir, f), { recursive: true }).catch(() => {});
    }
    await sleep(ms / 3);
    await rig.primary.restart();
  },
  "primary SIGSTOP": async (rig, ms) => {
    rig.primary.pause();
    await sleep(ms);
    rig.primary.resume();
  },
  "proxy hang": async (rig, ms) => {
    await rig.proxy.mode("hang");
    await sleep(ms);
    await rig.proxy.mode("pass");
  },
  "proxy reset": async (rig, ms) => {
    await rig.proxy.mode("reset");
    await sleep(ms);
    await rig.proxy.mode("pass");
  },
  "proxy refuse": async (rig, ms) => {
    await rig.proxy.mode("refuse");
    await sleep(ms);
    await rig.proxy.mode("pass");
  },
  "cut mid-pipeline": async (rig, ms) => {
    rig.proxy.cutAfterBytes(200 + Math.floor(ms));
    await sleep(ms);
    rig.proxy.cutAfterBytes(null);
  },
  "latency": async (rig, ms) => {
    rig.proxy.latency(ms > 1500 ? 800 : 60, 40);
    await sleep(ms);
    rig.proxy.latency(0);
  },
  "failover kill -9": async (rig, ms) => {
    rig.failover!.kill("SIGKILL");
    await sleep(ms);
    await rig.failover!.restart();
  },
  "both down": async (rig, ms) => {
    await rig.proxy.mode("refuse");
    rig.failover!.kill("SIGKILL");
    await sleep(ms);
    await rig.failover!.restart();
    await rig.proxy.mode("pass");
  },
  "primary READONLY": async (rig, ms) => {
    // A replica of a master that is not there keeps its data and refuses writes (READONLY).
    await rig.reader.replicaof("127.0.0.1", String(await freePort()));
    await sleep(ms);
    await rig.reader.replicaof("NO", "ONE");
  },
  "primary OOM": async (rig, ms) => {
    await rig.reader.config("SET", "maxmemory-policy", "noeviction");
    await rig.reader.config("SET", "maxmemory", "1");
    await sleep(ms);
    await rig.reader.config("SET", "maxmemory", "0");
  },
  "btcfeed kill -9": async (rig, ms) => {
    rig.stream!.kill("SIGKILL");
    await rig.stream!.status;
    await sleep(ms / 3);
    await rig.startStream().waitForLine(/stream started/);
  },
  "btcfeed SIGSTOP": async (rig, ms) => {
    rig.stream!.kill("SIGSTOP");
    await sleep(Math.min(ms, 1_500));
    rig.stream!.kill("SIGCONT");
  },
  "forced failover": async (rig, ms) => {
    await runCli(["failover", ...rig.sharedArgs]);
    await sleep(ms);
    await runCli(["failover", "--release", ...rig.sharedArgs]);
  },
  "sync killed -9 mid-replay": async (rig, ms) => {
    await runCli(["failover", ...rig.sharedArgs]);
    await sleep(ms);
    const sync = spawnCli(["sync", ...rig.sharedArgs]);
    await sleep(50 + ms / 10);
    sync.kill("SIGKILL");
    await sync.status;
    await runCli(["sync", ...rig.sharedArgs]);
    await runCli(["failover", "--release", ...rig.sharedArgs]);
  },
  "two syncs at once": async (rig, ms) => {
    await runCli(["failover", ...rig.sharedArgs]);
    await sleep(ms);
    await Promise.all([runCli(["sync", ...rig.sharedArgs]), runCli(["sync", ...rig.sharedArgs])]);
    await runCli(["failover", "--release", ...rig.sharedArgs]);
  },
};

export async function runChaos(options: ChaosOptions): Promise<ChaosResult> {
  const random = seededRandom(options.seed);
  const log = options.log ?? (() => {});
  const trades = Math.round(options.durationMs / 1000 * options.ratePerSec);
  const rig = await Rig.start({ trades, ratePerSec: options.ratePerSec, failover: true });
  const faultCounts: Record<string, number> = {};
  let faults = 0;
  try {
    await rig.startStream().waitForLine(/stream started/);
    const names = Object.keys(FAULTS);
    const until = Date.now() + options.durationMs;
    let done = false;
    rig.fake.done.then(() => done = true);
    while (Date.now() < until && !done) {
      await sleep(300 + random() * 1_200);
      const name = names[Math.floor(random() * names.length)];
      const holdMs = 300 + Math.floor(random() * 2_500);
      log(`chaos: fault ${++faults}: ${name} for ${holdMs} ms`);
      faultCounts[name] = (faultCounts[name] ?? 0) + 1;
      await FAULTS[name](rig, holdMs);
    }
    log("chaos: healing; waiting for every trade to reach the primary");
    const verdict = await rig.settle(120_000);
    await waitFor(() => rig.status()?.mode === "primary", 20_000, "primary mode");
    const deadLetters = rig.status()?.counters.outOfOrder ?? 0;
    const line = `chaos: ${trades} trades, ${faults} faults, ${verdict.lost} lost, ` +
      `${verdict.duplicated} duplicated, ${verdict.reordered} reordered`;
    if (verdict.mismatched.length || verdict.badCandles.length || verdict.badLast) {
      log(`chaos: ${describeVerdict(verdict)}`);
    }
    return { trades, faults, faultCounts, verdict, deadLetters, line };
  } catch (e) {
    log(`chaos: stream log tail:\n${rig.stream?.lines.slice(-40).join("\n")}`);
    throw e;
  } finally {
    await rig.stop();
  }
}

/** True when the run lost, duplicated, reordered or corrupted nothing. */
export function clean(r: ChaosResult): boolean {
  const v = r.verdict;
  return !v.lost && !v.duplicated && !v.reordered && !v.mismatched.length &&
    !v.badCandles.length && !v.badLast && !r.deadLetters;
}
