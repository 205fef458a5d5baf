/**
 * `deno task chaos --distributed`: the whole-system fault schedule. Three feeders of one group
 * (each its own data directory: its own host, as far as btcfeed can tell) write to a Sentinel
 * primary (a master, two replicas, three sentinels, persistence off), while a fake Binance keeps
 * trading on the clock. Faults hit the feeders (kill -9 of the writer or a standby, SIGSTOP past
 * the lease, a forced failover of the writer) and the primary (its master killed, frozen or out
 * of memory, a replica or a sentinel killed), one at a time. Afterwards everything heals; the
 * master Sentinel then names must hold the tape exactly, from its first trade on, once each and in
 * order with exact candles, and every feeder's `btcfeed health` must pass.
 *
 * Each feeder is killed at most once: a third start within 10 minutes is health's crash-loop
 * warning, which would rightly fail the final "every feeder passes".
 */

import { Redis } from "ioredis";
import { runCli, waitFor } from "../support/cli.ts";
import { describeVerdict, verifyMarket } from "../support/verify.ts";
import { seededRandom } from "../support/rng.ts";
import { type SentinelGroup, startSentinelGroup } from "../support/sentinel.ts";
import { type FakeExchange, startFakeExchange } from "../support/fake_exchange.ts";
import { createFeeder, type Feeder, feederHealth, PrimaryWatch } from "../e2e/_group.ts";
import { sleep } from "../support/rig.ts";
import type { ChaosOptions, ChaosResult } from "./chaos.ts";

const LEASE_MS = 2_000;

interface World {
  group: SentinelGroup;
  fake: FakeExchange;
  feeders: Feeder[];
  killed: Set<string>;
  random: () => number;
}

/** The feeder whose status says it writes, else any. */
function writerOf(w: World): Feeder {
  return w.feeders.find((f) => f.status()?.group?.role === "writer") ?? w.feeders[0];
}

function standbyOf(w: World): Feeder {
  const writer = writerOf(w);
  const others = w.feeders.filter((f) => f !== writer);
  return others[Math.floor(w.random() * others.length)];
}

async function killFeeder(w: World, f: Feeder, ms: number): Promise<void> {
  w.killed.add(f.id);
  f.proc!.kill("SIGKILL");
  await f.proc!.status;
  await sleep(ms);
  f.start();
  await f.proc!.waitForLine(/stream started/, 30_000);
}

async function stopFeeder(f: Feeder, ms: number): Promise<void> {
  f.proc!.kill("SIGSTOP");
  await sleep(ms);
  f.proc!.kill("SIGCONT");
}

async function master(w: World) {
  return w.group.node(await w.group.masterPort());
}

/** A fault runs to its end (restarted, resumed or released); false when it does not apply now. */
type Fault = (w: World, holdMs: number) => Promise<boolean>;

const FAULTS: Record<string, Fault> = {
  "writer kill -9": async (w, ms) => {
    const f = writerOf(w);
    if (w.killed.has(f.id)) return false;
    await killFeeder(w, f, ms / 2);
    return true;
  },
  "standby kill -9": async (w, ms) => {
    const f = standbyOf(w);
    if (w.killed.has(f.id)) return false;
    await killFeeder(w, f, ms / 2);
    return true;
  },
  "writer SIGSTOP past its lease": async (w, ms) => {
    await stopFeeder(writerOf(w), LEASE_MS + ms);
    return true;
  },
  "standby SIGSTOP": async (w, ms) => {
    await stopFeeder(standbyOf(w), ms);
    return true;
  },
  "forced failover of the writer": async (w, ms) => {
    const args = ["--data-dir", writerOf(w).dataDir, "--primary", w.group.url];
    await runCli(["failover", ...args]);
    await sleep(ms);
    await runCli(["failover", "--release", ...args]);
    return true;
  },
  "master kill -9": async (w, ms) => {
    // Killed with its data (persistence off); back after the election, it rejoins as a replica.
    const old = await master(w);
    old.kill("SIGKILL");
    await w.group.waitForNewMaster(old.port);
    await sleep(ms / 2);
    await old.restart();
    return true;
  },
  "master SIGSTOP": async (w, ms) => {
    const old = await master(w);
    old.pause();
    await w.group.waitForNewMaster(old.port).catch(() => {});
    await sleep(ms / 2);
    old.resume();
    return true;
  },
  "master OOM": async (w, ms) => {
    const node = await master(w);
    const client = new Redis({ port: node.port, host: "127.0.0.1", maxRetriesPerRequest: 1 });
    client.on("error", () => {});
    try {
      await client.config("SET", "maxmemory-policy", "noeviction");
      await client.config("SET", "maxmemory", "1");
      await sleep(ms);
      await client.config("SET", "maxmemory", "0");
    } finally {
      client.disconnect();
    }
    return true;
  },
  "replica kill -9": async (w, ms) => {
    const masterPort = await w.group.masterPort();
    const replicas = w.group.nodes.filter((n) => n.port !== masterPort);
    const node = replicas[Math.floor(w.random() * replicas.length)];
    node.kill("SIGKILL");
    await sleep(ms);
    await node.restart();
    return true;
  },
};

/** A Sentinel-aware reader of the current master. */
function masterReader(group: SentinelGroup): Redis {
  const client = new Redis({
    sentinels: group.sentinelPorts.map((port) => ({ host: "127.0.0.1", port })),
    name: group.masterName,
    maxRetriesPerRequest: 2,
  });
  client.on("error", () => {});
  return client;
}

/** Runs the distributed schedule; same result shape as the single-feeder chaos run. */
export async function runDistributedChaos(options: ChaosOptions): Promise<ChaosResult> {
  const log = options.log ?? (() => {});
  const trades = Math.round((options.durationMs + 15_000) / 1000 * options.ratePerSec);
  const group = await startSentinelGroup();
  const fake = await startFakeExchange({
    exchange: "binance",
    trades,
    ratePerSec: options.ratePerSec,
    pauseWhileDisconnected: false,
    startMicros: Date.now() * 1000,
  });
  const feeders: Feeder[] = [];
  const reader = masterReader(group);
  const w: World = { group, fake, feeders, killed: new Set(), random: seededRandom(options.seed) };
  const faultCounts: Record<string, number> = {};
  let faults = 0;
  try {
    for (let i = 0; i < 3; i++) {
      feeders.push(await createFeeder(`f${i}`, fake, group.url, LEASE_MS));
    }
    for (const f of feeders) f.start();
    await waitFor(() => feeders.some((f) => f.status()?.mode === "primary"), 30_000, "a writer");
    const market = fake.tape[0].market;
    const watch = new PrimaryWatch(reader, fake, 100);
    const names = Object.keys(FAULTS);
    const from = Date.now();
    while (Date.now() < from + options.durationMs) {
      await sleep(500 + w.random() * 1_500);
      const name = names[Math.floor(w.random() * names.length)];
      const holdMs = 300 + Math.floor(w.random() * 2_500);
      if (!(await FAULTS[name](w, holdMs))) continue;
      log(`chaos: fault ${++faults}: ${name} for ${holdMs} ms`);
      faultCounts[name] = (faultCounts[name] ?? 0) + 1;
    }
    const to = Date.now();
    log("chaos: healing; waiting for every trade and every feeder's health");
    await fake.done;
    const lastId = fake.tape.at(-1)!.tradeId;
    await waitFor(
      async () => (await reader.hget(`btcfeed:{${market}}:last`, "trade_id")) === lastId,
      120_000,
      "the whole tape on the master",
    );
    await waitFor(
      async () => {
        const all = await Promise.all(feeders.map((f) => feederHealth(f, group.url)));
        return all.every((h) => h.code === 0);
      },
      60_000,
      "every feeder's health pass",
    ).catch(async (e) => {
      const all = await Promise.all(feeders.map((f) => feederHealth(f, group.url)));
      throw new Error(`${e.message}: ${all.map((h, i) => `f${i} ${h.problems}`).join(" | ")}`);
    });
    await watch.stop();
    const first = await reader.xrange(`btcfeed:{${market}}:trades`, "-", "+", "COUNT", 1);
    const firstId = first[0][1][first[0][1].indexOf("trade_id") + 1];
    const tape = fake.tape.slice(fake.tape.findIndex((t) => t.tradeId === firstId));
    const verdict = await verifyMarket(reader, "btcfeed", tape);
    if (verdict.mismatched.length || verdict.badCandles.length || verdict.badLast) {
      log(`chaos: ${describeVerdict(verdict)}`);
    }
    const stall = watch.longestStallMs(tape.length);
    const availability = watch.availability(from, to);
    log(
      `chaos: longest time without a new trade on the master ${stall} ms; availability ` +
        `${(availability * 100).toFixed(2)}% of ${Math.round((to - from) / 1000)} s`,
    );
    const line = `chaos: ${tape.length} trades, ${faults} faults, ${verdict.lost} lost, ` +
      `${verdict.duplicated} duplicated, ${verdict.reordered} reordered`;
    const deadLetters = feeders.reduce((n, f) => n + (f.status()?.counters.outOfOrder ?? 0), 0);
    return { trades: tape.length, faults, faultCounts, verdict, deadLetters, line };
  } catch (e) {
    for (const f of feeders) {
      log(`chaos: ${f.id} log tail:\n${f.proc?.lines.slice(-30).join("\n")}`);
    }
    throw e;
  } finally {
    reader.disconnect();
    for (const f of feeders) await f.proc?.stop();
    await fake.stop();
    await group.stop();
    for (const f of feeders) await Deno.remove(f.dataDir, { recursive: true }).catch(() => {});
  }
}
