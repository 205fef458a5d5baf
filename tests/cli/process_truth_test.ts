/**
 * `health` tells the truth about the stream process, through the real CLI and real processes:
 * a clean stop and a `kill -9` fail at once (not after the 10 s heartbeat), a stale pid file does
 * not block a start, a crash loop warns then fails, and dropped trades survive a restart.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { Rig } from "../support/rig.ts";
import { freePort } from "../support/redis_server.ts";
import { runCli, spawnCli, waitFor } from "../support/cli.ts";
import { startFakeExchange } from "../support/fake_exchange.ts";
import { readStatus } from "../../lib/runtime/status.ts";
import { RESTART_THRESHOLDS } from "../../lib/health/types.ts";

interface HealthDoc {
  status: string;
  output?: string;
  checks: Record<string, { status: string; output: string; observedValue: unknown }[]>;
}

async function health(rig: Rig): Promise<{ doc: HealthDoc; ms: number; code: number }> {
  const t0 = performance.now();
  const r = await rig.cli(["health", "--json"]);
  return { doc: JSON.parse(r.stdout), ms: performance.now() - t0, code: r.code };
}

/** How long starting the CLI alone takes now (`btcfeed --help`): the machine's share of a run. */
async function startupMs(): Promise<number> {
  const t0 = performance.now();
  await runCli(["--help"]);
  return performance.now() - t0;
}

Deno.test("health fails within a second of a clean stop (saying stopped) and of a kill -9 (lock free)", async () => {
  const rig = await Rig.start({ trades: 100_000, ratePerSec: 200 });
  try {
    // "Within a second" of health's own work: the process start is measured and allowed for.
    let stream = rig.startStream();
    await waitFor(() => rig.status()?.mode === "primary", 20_000, "streaming");
    assert.equal((await health(rig)).doc.checks["stream:heartbeat"][0].status, "pass");
    assert.equal((await stream.stop()).code, 0);
    let start = await startupMs();
    const stopped = await health(rig);
    assert.equal(stopped.code, 2);
    assert.match(stopped.doc.output ?? "", /stream not running: stopped at \S+ \(stopped by SIG/);
    assert.ok(stopped.ms < start + 1_000, `health took ${stopped.ms} ms (start ${start} ms)`);
    assert.ok(readStatus(rig.dataDir)?.stopped, "the last status says stopped");

    stream = rig.startStream();
    await waitFor(() => !rig.status()?.stopped && rig.status()?.pid === stream.pid, 20_000, "up");
    stream.kill("SIGKILL");
    await stream.status;
    start = await startupMs();
    const killed = await health(rig);
    assert.equal(killed.code, 2);
    assert.match(killed.doc.output ?? "", new RegExp(`pid ${stream.pid} exited`));
    assert.ok(killed.ms < start + 1_000, `health took ${killed.ms} ms (start ${start} ms)`);
    assert.ok(Date.now() - rig.status()!.heartbeatAt < 10_000, "the heartbeat alone looks fresh");
  } finally {
    await rig.stop();
  }
});

Deno.test("a stale stream.pid naming another live process does not block a start", async () => {
  const rig = await Rig.start({ trades: 200, ratePerSec: 500 });
  try {
    Deno.writeTextFileSync(join(rig.dataDir, "stream.pid"), String(Deno.pid));
    const stream = rig.startStream();
    await stream.waitForLine(/stream started/);
    const verdict = await rig.settle();
    assert.equal(verdict.lost, 0);
  } finally {
    await rig.stop();
  }
});

Deno.test("a crash loop (start, kill -9, repeated) turns the restart check warn, then fail", async () => {
  const rig = await Rig.start({ trades: 100_000, ratePerSec: 200 });
  try {
    const seen: string[] = [];
    for (let start = 1; start <= RESTART_THRESHOLDS.fail; start++) {
      const stream = rig.startStream();
      await waitFor(() => rig.status()?.pid === stream.pid, 20_000, `start ${start}`);
      const { doc } = await health(rig);
      const check = doc.checks["stream:restarts"][0];
      assert.equal(check.observedValue, start);
      seen.push(check.status);
      stream.kill("SIGKILL");
      await stream.status;
    }
    const w = RESTART_THRESHOLDS.warn;
    const f = RESTART_THRESHOLDS.fail;
    assert.deepEqual(seen, [
      ...Array(w - 1).fill("pass"),
      ...Array(f - w).fill("warn"),
      "fail",
    ]);
  } finally {
    await rig.stop();
  }
});

Deno.test("dropped trades survive a restart: health reports since start and in total", async () => {
  const fake = await startFakeExchange({ exchange: "binance", trades: 400, ratePerSec: 2_000 });
  const dataDir = await Deno.makeTempDir();
  const args = [
    "stream",
    "--exchanges",
    "binance",
    "--exchange-url",
    `binance=${fake.wsUrl}`,
    "--http",
    "off",
    "--primary",
    `redis://127.0.0.1:${await freePort()}`,
    "--outbox-max",
    "100",
    "--data-dir",
    dataDir,
  ];
  try {
    const first = spawnCli(args);
    await waitFor(() => (readStatus(dataDir)?.counters.dropped ?? 0) >= 300, 20_000, "drops");
    assert.equal((await first.stop()).code, 0);
    const total = readStatus(dataDir)!.droppedTotal!;
    assert.equal(total, readStatus(dataDir)!.counters.dropped);

    const second = spawnCli(args);
    await waitFor(() => readStatus(dataDir)?.pid === second.pid, 20_000, "restarted");
    const s = readStatus(dataDir)!;
    assert.equal(s.droppedTotal, total + s.counters.dropped, "the total carries over");
    const r = await runCli([
      "health",
      "--json",
      "--primary",
      "redis://127.0.0.1:1",
      "--data-dir",
      dataDir,
    ]);
    const doc = JSON.parse(r.stdout) as HealthDoc;
    const dropped = doc.checks["stream:dropped"][0];
    assert.equal(dropped.status, "warn");
    const shown = /([\d,]+) in total|earlier runs dropped ([\d,]+)/.exec(dropped.output);
    assert.ok(shown, dropped.output);
    assert.ok(Number((shown[1] ?? shown[2]).replace(/,/g, "")) >= total, dropped.output);
    await second.stop();
  } finally {
    await fake.stop();
    await Deno.remove(dataDir, { recursive: true });
  }
});
