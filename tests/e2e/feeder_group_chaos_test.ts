/**
 * Three feeders of one group under random faults at 1,000 trades/s: `kill -9` (then a restart
 * on the same data directory) and SIGSTOP (for up to 2.5 leases, then SIGCONT), of the writer
 * and of standbys, one fault at a time. Checked trade by trade on the primary: nothing lost,
 * duplicated or reordered, every feeder's `btcfeed health` passes at the end; the longest time
 * without a new trade on the primary and the availability are printed.
 *
 * The default run is short (40 s, 6 faults, about 70 s in all); `BTCFEED_LONG_TESTS=1` runs 5 minutes with 20
 * faults. Each feeder is killed at most once: a third start within 10 minutes is health's
 * crash-loop warning, which would rightly fail the final "every feeder passes".
 * `BTCFEED_TEST_SEED` replays a schedule.
 */

import assert from "node:assert/strict";
import { runCli, waitFor } from "../support/cli.ts";
import { seededRandom } from "../support/rng.ts";
import {
  assertTapeFromFirst,
  type Feeder,
  type GroupEnv,
  PrimaryWatch,
  untilWriting,
  withGroup,
} from "./_group.ts";

const LONG = Deno.env.get("BTCFEED_LONG_TESTS") === "1";
const DURATION_MS = LONG ? 300_000 : 40_000;
const FAULTS = LONG ? 20 : 6;
const LEASE_MS = 2_000;
const RATE = 1_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

type Fault = { kind: "kill" | "stop"; feeder: Feeder; writer: boolean; ms: number };

/** Runs one fault to its end (restarted or resumed). */
async function inject(f: Fault): Promise<void> {
  if (f.kind === "kill") {
    f.feeder.proc!.kill("SIGKILL");
    await f.feeder.proc!.status;
    await sleep(f.ms);
    f.feeder.start();
    await f.feeder.proc!.waitForLine(/stream started/, 30_000);
  } else {
    f.feeder.proc!.kill("SIGSTOP");
    await sleep(f.ms);
    f.feeder.proc!.kill("SIGCONT");
  }
}

/** Picks the next fault: the writer every other time, every third a kill (once per feeder). */
function pick(env: GroupEnv, random: () => number, i: number, killed: Set<string>): Fault {
  const writer = env.writer();
  const target = i % 2 === 0 && writer
    ? writer
    : env.feeders[Math.floor(random() * env.feeders.length)];
  const kill = i % 3 === 1 && !killed.has(target.id);
  if (kill) killed.add(target.id);
  return {
    kind: kill ? "kill" : "stop",
    feeder: target,
    writer: target === writer,
    ms: kill ? 500 + random() * 2_500 : 300 + random() * LEASE_MS * 2.5,
  };
}

/** `btcfeed health --json` of `f`: exit code and the checks that did not pass. */
async function health(env: GroupEnv, f: Feeder): Promise<{ code: number; problems: string }> {
  const r = await runCli([
    "health",
    "--json",
    "--data-dir",
    f.dataDir,
    "--primary",
    env.redis.url,
  ]);
  const doc = JSON.parse(r.stdout);
  const problems = Object.entries(
    doc.checks as Record<string, { status: string; output: string }[]>,
  )
    .filter(([, c]) => c[0].status !== "pass").map(([k, c]) => `${k}: ${c[0].output}`);
  return { code: r.code, problems: problems.join("; ") };
}

Deno.test({
  name: `three feeders, ${FAULTS} random kill -9 and SIGSTOP faults over ${
    DURATION_MS / 1000
  } s at 1,000 trades/s: every trade once, in order, every feeder healthy`,
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const seed = Number(Deno.env.get("BTCFEED_TEST_SEED") ?? Date.now() % 1e6);
    const random = seededRandom(seed);
    const trades = Math.ceil((DURATION_MS + 10_000) / 1000) * RATE;
    await withGroup({ feeders: 3, trades, ratePerSec: RATE, leaseMs: LEASE_MS }, async (env) => {
      env.feeders[0].start();
      await untilWriting(env.feeders[0], 20_000);
      for (const f of env.feeders.slice(1)) f.start();
      await waitFor(
        () => env.feeders.every((f) => f.status()?.counters.tradesReceived),
        20_000,
        "every feeder receiving",
      );
      const watch = new PrimaryWatch(env.client, env.market, 100);
      const killed = new Set<string>();
      const done: string[] = [];
      const from = Date.now();
      const gapMs = DURATION_MS / FAULTS;
      for (let i = 0; i < FAULTS; i++) {
        const due = from + i * gapMs + random() * gapMs * 0.3;
        await sleep(Math.max(0, due - Date.now()));
        const fault = pick(env, random, i, killed);
        done.push(
          `${fault.kind} ${fault.feeder.id}${fault.writer ? " (writer)" : ""} ${
            Math.round(fault.ms)
          } ms`,
        );
        await inject(fault);
      }
      await sleep(Math.max(0, from + DURATION_MS - Date.now()));
      const to = Date.now();
      await waitFor(
        async () => {
          const all = await Promise.all(env.feeders.map((f) => health(env, f)));
          return all.every((h) => h.code === 0);
        },
        30_000,
        "every feeder's health pass",
      ).catch(async (e) => {
        const all = await Promise.all(env.feeders.map((f) => health(env, f)));
        throw new Error(
          `${e.message}: ${all.map((h, i) => `f${i} ${h.code} ${h.problems}`).join(" | ")}`,
        );
      });
      await env.fake.done;
      const lastId = env.fake.tape.at(-1)!.tradeId;
      await waitFor(
        async () => (await env.client.hget(`btcfeed:{${env.market}}:last`, "trade_id")) === lastId,
        60_000,
        "the whole tape",
      );
      await watch.stop();
      await assertTapeFromFirst(env);
      const stall = watch.longestStallMs(env.fake.tape.length);
      const availability = watch.availability(from, to);
      console.log(
        `feeder group chaos (seed ${seed}): ${FAULTS} faults [${done.join(", ")}]; ` +
          `longest time without a new trade on the primary ${stall} ms; ` +
          `availability ${(availability * 100).toFixed(2)}% of ${Math.round((to - from) / 1000)} s`,
      );
      assert.ok(done.filter((d) => d.includes("(writer)")).length >= FAULTS / 2 - 1);
    });
  },
});
