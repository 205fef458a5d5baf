/**
 * Several feeders on one primary (`--group`): one writes under a fenced lease, the others stand
 * by journaling. A writer killed (`kill -9`) or frozen past its lease (SIGSTOP) is replaced
 * within the lease plus a margin; a frozen writer that wakes up with a write still in flight
 * has it refused by the fence, logs that it steps back, and becomes a standby. Checked trade by
 * trade on the primary: nothing lost, duplicated or reordered.
 */

import assert from "node:assert/strict";
import { waitFor } from "../support/cli.ts";
import { startProxy } from "../support/tcp_proxy.ts";
import {
  assertTapeFromFirst,
  type Feeder,
  type GroupEnv,
  PrimaryWatch,
  untilWriting,
  withGroup,
} from "./_group.ts";

const LEASE_MS = 2_000;
/** Takeover time allowed beyond the lease: a standby's acquisition tick, fences, the hand-over replay. */
const MARGIN_MS = 2_500;

/** Waits until `f` is a standby that journals trades. */
function untilStandby(f: Feeder, timeoutMs = 20_000): Promise<unknown> {
  return waitFor(
    () => {
      const s = f.status();
      return s?.mode === "standby" && s.counters.tradesReceived > 0;
    },
    timeoutMs,
    `${f.id} journaling as a standby`,
  );
}

/** Waits for the whole tape on the primary. */
async function untilTapeDone(env: GroupEnv, timeoutMs: number): Promise<void> {
  await env.fake.done;
  const last = env.fake.tape.at(-1)!.tradeId;
  await waitFor(
    async () => {
      const last_ = await env.client.hget(`btcfeed:{${env.market}}:last`, "trade_id");
      return last_ === last;
    },
    timeoutMs,
    "the tape's last trade on the primary",
  );
}

Deno.test("kill -9 of the writer: a standby takes over within the lease plus a margin, every trade once, in order", async () => {
  await withGroup(
    { feeders: 2, trades: 14_000, ratePerSec: 1_000, leaseMs: LEASE_MS },
    async (env) => {
      const [a, b] = env.feeders;
      a.start();
      await untilWriting(a, 20_000);
      b.start();
      await untilStandby(b);
      await new Promise((r) => setTimeout(r, 1_500));
      const watch = new PrimaryWatch(env.client, env.market, 50);
      await new Promise((r) => setTimeout(r, 500));
      a.proc!.kill("SIGKILL");
      const killedAt = Date.now();
      await a.proc!.status;
      await untilWriting(b, LEASE_MS + MARGIN_MS + 5_000);
      await waitFor(
        async () => (await env.client.xlen(`btcfeed:{${env.market}}:trades`)) > 0,
        1000,
      );
      a.start(); // fills its own hand-over from its journal and REST, as a standby
      await untilStandby(a);
      await untilTapeDone(env, 30_000);
      await watch.stop();
      const stall = watch.longestStallMs(env.fake.tape.length);
      assert.ok(
        stall <= LEASE_MS + MARGIN_MS,
        `longest stall ${stall} ms (lease ${LEASE_MS} ms), killed at ${
          new Date(killedAt).toISOString()
        }`,
      );
      await assertTapeFromFirst(env);
      assert.equal(b.status()?.group?.writer?.id, "f1");
    },
  );
});

Deno.test("SIGSTOP of the writer past its lease, then SIGCONT: its in-flight write is fenced, it steps back to standby, every trade once, in order", async () => {
  await withGroup(
    { feeders: 2, trades: 14_000, ratePerSec: 1_000, leaseMs: LEASE_MS },
    async (env) => {
      const [a, b] = env.feeders;
      const proxy = await startProxy({ hostname: "127.0.0.1", port: env.redis.port });
      try {
        a.start(proxy.url());
        await untilWriting(a, 20_000);
        b.start();
        await untilStandby(b);
        await new Promise((r) => setTimeout(r, 1_500));
        // A's next write is held on the wire (its link toward the primary stalls), then A freezes
        // with it in flight, well within its write deadline.
        await proxy.mode("hold");
        await new Promise((r) => setTimeout(r, 100));
        a.proc!.kill("SIGSTOP");
        await untilWriting(b, LEASE_MS + MARGIN_MS + 5_000);
        // The partition heals: A's old write reaches the primary after B raised the fences.
        assert.equal(await fencedReplies(env), 0);
        await proxy.mode("pass");
        await waitFor(() => fencedReplies(env), 5_000, "the old write refused by the fence");
        a.proc!.kill("SIGCONT");
        await a.proc!.waitForLine(/writer lease lost: stepping back to standby/, 10_000);
        await untilStandby(a);
        await untilTapeDone(env, 30_000);
        await assertTapeFromFirst(env);
        const s = a.status()!;
        assert.equal(s.group?.role, "standby");
        assert.equal(s.group?.writer?.id, "f1");
        assert.equal(a.proc!.lines.filter((l) => /writer lease lost/.test(l)).length, 1);
      } finally {
        await proxy.stop();
      }
    },
  );
});

/** How many BTCFEED_FENCED error replies the primary sent (INFO errorstats). */
async function fencedReplies(env: GroupEnv): Promise<number> {
  const info = await env.client.info("errorstats");
  return Number(/errorstat_BTCFEED_FENCED:count=(\d+)/.exec(info)?.[1] ?? 0);
}
