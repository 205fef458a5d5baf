/**
 * A replay over a slow link converges: each replay step's deadline is sized by its pipeline's
 * bytes, independent of the 500 ms live write deadline that used to cap every replay pipeline.
 * Real CLI, real redis-server, the fault proxy limited to 5 Mbit/s.
 */

import { equal, ok } from "node:assert/strict";
import { assertClean, Rig } from "../support/rig.ts";
import { waitFor } from "../support/cli.ts";

Deno.test("a backlog replayed through a 5 Mbit/s link converges and delivers every trade once, in order", async () => {
  const rig = await Rig.start({ trades: 12_000, ratePerSec: 3_000 });
  try {
    equal((await rig.cli(["failover"])).code, 0); // forced from the start: all goes to the outbox
    await rig.startStream().waitForLine(/stream started/);
    await waitFor(() => (rig.status()?.outbox.depth ?? 0) >= 10_000, 30_000, "a backlog");
    rig.proxy.bandwidth(5_000_000);
    const before = rig.proxy.stats.bytesToServer;
    const started = Date.now();
    await rig.cli(["failover", "--release"]);
    assertClean(await rig.settle(60_000));
    const seconds = (Date.now() - started) / 1000;
    const megabits = ((rig.proxy.stats.bytesToServer - before) * 8) / 1e6;
    // The link really was the bottleneck: the replay took its bytes' time at 5 Mbit/s.
    ok(megabits / seconds <= 5.5, `${megabits.toFixed(1)} Mbit in ${seconds.toFixed(1)} s`);
    await waitFor(() => rig.status()?.mode === "primary", 10_000, "back on the primary");
    // 5,000-row steps of about 400 KB need about 0.7 s each here: over the 500 ms live deadline.
    const replayFailures = rig.status()!.transitions.filter((t) =>
      t.from === "syncing" && t.to === "failover"
    );
    equal(replayFailures.length, 0, JSON.stringify(rig.status()!.transitions));
  } finally {
    await rig.stop();
  }
});
