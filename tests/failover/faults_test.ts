/**
 * The failover guarantees, proven by breaking things while the real `btcfeed stream` runs:
 * after recovery the primary holds every trade exactly once, in order, with exact candles.
 */

import { deepStrictEqual as assertEquals, ok } from "node:assert/strict";
import { assertClean, Rig, sleep } from "../support/rig.ts";
import { waitFor } from "../support/cli.ts";

const TRADES = 3_000;
const RATE = 1_000;

async function withRig(
  options: { failover?: boolean },
  fault: (rig: Rig) => Promise<void>,
): Promise<Rig> {
  const rig = await Rig.start({ trades: TRADES, ratePerSec: RATE, failover: options.failover });
  try {
    const stream = rig.startStream();
    await stream.waitForLine(/stream started/);
    await waitFor(async () => (await rig.primaryCount()) > 300, 20_000, "first trades");
    await fault(rig);
    assertClean(await rig.settle());
    return rig;
  } finally {
    await rig.stop();
  }
}

const modeChanges = (rig: Rig) => rig.stream!.lines.filter((l) => l.includes("mode change"));

Deno.test("loses no trade when the primary is killed -9 and restarted", async () => {
  const rig = await withRig({ failover: true }, async (rig) => {
    rig.primary.kill("SIGKILL");
    await sleep(1_200);
    await rig.primary.restart();
  });
  ok(modeChanges(rig).some((l) => l.includes('"to":"failover"')), "failed over");
  ok(modeChanges(rig).some((l) => l.includes('"to":"primary"')), "came back");
});

Deno.test("fails over within about a second when the primary is SIGSTOPped, and replays after SIGCONT", async () => {
  await withRig({}, async (rig) => {
    rig.primary.pause();
    const stoppedAt = Date.now();
    await waitFor(() => rig.status()?.mode === "failover", 5_000, "failover mode");
    const transition = rig.status()!.transitions.findLast((t) => t.to === "failover")!;
    const detection = transition.at - stoppedAt;
    // The deadline is 500 ms; the bound is generous for a loaded 2-core machine.
    ok(detection < 2_000, `detected in ${detection} ms`);
    await sleep(1_500);
    rig.primary.resume();
  });
});

Deno.test("loses no trade when the proxy hangs with sockets open, then heals", async () => {
  await withRig({ failover: true }, async (rig) => {
    await rig.proxy.mode("hang");
    await waitFor(() => rig.status()?.mode === "failover", 5_000, "failover mode");
    await sleep(1_000);
    await rig.proxy.mode("pass");
  });
});

Deno.test("loses no trade when connections are reset in the middle of a pipeline", async () => {
  await withRig({}, async (rig) => {
    rig.proxy.cutAfterBytes(700);
    await sleep(300);
    rig.proxy.resetAll();
    await rig.proxy.mode("reset");
    await sleep(800);
    rig.proxy.cutAfterBytes(null);
    await rig.proxy.mode("pass");
  });
});

Deno.test("keeps every trade through added latency beyond the deadline", async () => {
  await withRig({}, async (rig) => {
    rig.proxy.latency(700, 100);
    await waitFor(() => rig.status()?.mode === "failover", 8_000, "failover on slow link");
    await sleep(500);
    rig.proxy.latency(0);
  });
});

Deno.test("carries an outage in the outbox alone when both Redis instances are down", async () => {
  await withRig({ failover: true }, async (rig) => {
    await rig.proxy.mode("refuse");
    rig.failover!.kill("SIGKILL");
    await waitFor(() => (rig.status()?.outbox.depth ?? 0) > 200, 8_000, "outbox filling");
    await rig.failover!.restart();
    await rig.proxy.mode("pass");
  });
});

Deno.test("keeps writing the failover Redis while the primary is down, so local readers stay fresh", async () => {
  await withRig({ failover: true }, async (rig) => {
    await rig.proxy.mode("refuse");
    await waitFor(
      () => (rig.status()?.counters.writtenFailover ?? 0) > 100,
      8_000,
      "failover writes",
    );
    await rig.proxy.mode("pass");
  });
});

Deno.test("forced failover persists across a stream restart and release syncs back", async () => {
  const rig = await Rig.start({ trades: TRADES, ratePerSec: RATE });
  try {
    let stream = rig.startStream();
    await stream.waitForLine(/stream started/);
    const forced = await rig.cli(["failover"]);
    assertEquals(forced.code, 0, forced.stderr);
    ok(/failover forced/.test(forced.stdout), forced.stdout);
    await waitFor(() => rig.status()?.forced && rig.status()?.mode === "failover", 3_000, "forced");
    await stream.stop();
    stream = rig.startStream();
    await stream.waitForLine(/stream started/);
    await waitFor(() => rig.status()?.pid === stream.pid, 5_000, "new status");
    assertEquals([rig.status()?.mode, rig.status()?.forced], ["failover", true]);
    await sleep(500);
    assertEquals(rig.status()?.mode, "failover", "still forced after the restart");
    const released = await rig.cli(["failover", "--release"]);
    assertEquals(released.code, 0, released.stderr);
    assertClean(await rig.settle());
    await waitFor(() => rig.status()?.mode === "primary", 10_000, "back on the primary");
  } finally {
    await rig.stop();
  }
});
