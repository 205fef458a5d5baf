/**
 * The asynchronous-replication hole of a Sentinel failover, made to happen: replication from the
 * master is cut (its replication user turned off), the master keeps taking btcfeed's writes for a
 * second that no replica receives, then it is killed (`kill -9`) and a replica without those
 * writes is promoted.
 * - With `--primary-replicas 1` none of those writes was acknowledged (`WAIT 1` confirmed none),
 *   so they stayed pending in the journal and are replayed into the new master: reconciliation
 *   finds nothing acknowledged missing there (no primary reset).
 * - Without it they were acknowledged and died with the master; reconciliation, before btcfeed
 *   returns to the primary, finds the new master behind the journal and re-applies them.
 * Either way the new master ends with the whole tape: every trade once, in order.
 */

import { deepStrictEqual as assertEquals, ok } from "node:assert/strict";
import { waitFor } from "../support/cli.ts";
import { startSentinelGroup } from "../support/sentinel.ts";
import { describeVerdict, verifyMarket } from "../support/verify.ts";
import { marketKeys } from "../../lib/redis/keys.ts";
import type { StreamStatus } from "../../lib/runtime/status.ts";
import { assertFullTape, withEnv } from "./_harness.ts";
import { awaitRecovery, describeRecovery, reader } from "./_sentinel.ts";

const TRADES = 8_000;
const CUT_AT = 3_000;
/** How long the master takes writes no replica receives before it is killed. */
const UNREPLICATED_MS = 1_000;

type Counters = StreamStatus["counters"];

/** Runs the scenario with `extra` stream flags; returns the stream's counters at the end. */
async function unreplicatedThenKilled(label: string, extra: string[]): Promise<Counters> {
  const group = await startSentinelGroup();
  try {
    let counters: Counters | undefined;
    await withEnv([{ exchange: "binance", trades: TRADES, ratePerSec: 1_000 }], async (env) => {
      const fake = env.fakes[0];
      const key = marketKeys("btcfeed", fake.tape[0].market).trades;
      env.startStream(["--failover", env.redis.url, ...extra], group.url);
      const oldPort = await group.masterPort();
      const clients = group.nodes.map((n) => reader(n.port));
      const [master, ...replicas] = clients;
      try {
        await waitFor(async () => (await master.xlen(key)) >= CUT_AT, 30_000, `${CUT_AT} trades`);
        await group.cutReplication(oldPort);
        const replicated = Math.max(...await Promise.all(replicas.map((r) => r.xlen(key))));
        await new Promise((r) => setTimeout(r, UNREPLICATED_MS));
        // The premise: the master holds writes no replica has. A stream that was between two
        // hold-downs at the cut writes again once back on the primary: wait for that write.
        await waitFor(
          async () => (await master.xlen(key)) > replicated,
          15_000,
          "unreplicated writes",
        );
        const onMasterOnly = (await master.xlen(key)) - replicated;
        master.disconnect();
        group.node(oldPort).kill("SIGKILL");
        const recovery = await awaitRecovery(group, oldPort, Date.now(), key);
        const promoted = reader(group.node(recovery.newPort).port);
        clients.push(promoted);
        await waitFor(async () => (await promoted.xlen(key)) >= TRADES, 60_000, "the whole tape");
        await waitFor(() => env.status()?.mode === "primary", 30_000, "back on the primary");
        const verdict = await verifyMarket(promoted, "btcfeed", fake.tape);
        counters = env.status()!.counters;
        console.log(
          `sentinel ${label}: ${onMasterOnly} trades on the master only when it was killed ` +
            `(promoted master had ${recovery.atPromotion}); ${
              describeRecovery("killed", recovery)
            }; replica shortfalls ${counters.replicaShortfalls}, primary resets ` +
            `${counters.primaryResets} (${counters.reconciledTrades} trades re-applied); ` +
            `final: ${describeVerdict(verdict)}`,
        );
        ok(onMasterOnly > 0, "the master took no write that no replica received");
        ok(recovery.atPromotion < replicated + onMasterOnly, "the promoted master had every write");
        await assertFullTape(promoted, fake);
      } finally {
        for (const c of clients) c.disconnect();
      }
    });
    return counters!;
  } finally {
    await group.stop();
  }
}

Deno.test("--primary-replicas 1 behind Sentinel: writes the killed master never replicated were never acknowledged, so the new master lacks nothing acknowledged and gets them from the journal", async () => {
  const counters = await unreplicatedThenKilled("WAIT 1", ["--primary-replicas", "1"]);
  ok(counters.replicaShortfalls > 0, "WAIT never reported the missing replicas");
  assertEquals(counters.primaryResets, 0, "an acknowledged trade was missing on the new master");
});

Deno.test("without --primary-replicas behind Sentinel: acknowledged writes lost with the killed master are found missing by reconciliation and re-applied", async () => {
  const counters = await unreplicatedThenKilled("no WAIT", []);
  assertEquals(counters.replicaShortfalls, 0);
  ok(counters.primaryResets >= 1, "reconciliation did not find the new master behind");
  ok(counters.reconciledTrades > 0, "no trade was re-applied from the journal");
});
