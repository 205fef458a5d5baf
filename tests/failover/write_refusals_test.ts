/**
 * A primary that answers PING but refuses writes (a read-only replica, OOM, MISCONF, an ACL that
 * lacks a command): the stream stays in failover with that reason, without flapping through
 * syncing every hold-down, says so in status.json, health and /metrics, and delivers every trade
 * once, in order, when the primary takes writes again. Real CLI, real redis-server processes.
 */

import { equal, match, ok } from "node:assert/strict";
import { Redis } from "ioredis";
import { assertClean, Rig, sleep } from "../support/rig.ts";
import { freePort, type RedisServer, startRedis } from "../support/redis_server.ts";
import { runCli, waitFor } from "../support/cli.ts";
import { startFakeExchange } from "../support/fake_exchange.ts";
import type { RedisFailureReason } from "../../lib/domain.ts";

/** The rig's hold-down (500 ms) times this: long enough to flap several times if it would. */
const OBSERVE_MS = 2_500;

interface Refusal {
  reason: RedisFailureReason;
  /** Makes the primary refuse writes (`reader` talks to it directly). */
  provoke(rig: Rig): Promise<void>;
  /** Makes it take writes again. */
  heal(rig: Rig): Promise<void>;
  /** `btcfeed health` exit code and a text it must print while refused. */
  healthCode: number;
  healthText: RegExp;
  /** Provoke before the stream starts (a replica resyncs, so it must not hold trades yet). */
  beforeStart?: boolean;
}

async function refusedThenHealed(r: Refusal): Promise<void> {
  const httpPort = await freePort();
  const rig = await Rig.start({
    trades: 2_500,
    ratePerSec: 500,
    streamArgs: ["--http", `127.0.0.1:${httpPort}`],
  });
  try {
    if (r.beforeStart) await r.provoke(rig);
    rig.startStream();
    if (!r.beforeStart) {
      await waitFor(async () => (await rig.primaryCount()) > 200, 15_000, "trades on the primary");
      await r.provoke(rig);
    }
    await waitFor(
      () => rig.status()?.mode === "failover" && rig.status()?.primary.reason === r.reason,
      15_000,
      `failover with reason ${r.reason} (status ${JSON.stringify(rig.status()?.primary)})`,
    );
    const before = rig.status()!.transitions.length;
    await sleep(OBSERVE_MS);
    const held = rig.status()!;
    equal(held.mode, "failover", "still in failover");
    equal(held.primary.reason, r.reason);
    equal(held.transitions.length, before, `no flapping: ${JSON.stringify(held.transitions)}`);
    ok(held.outbox.depth > 0, "trades kept in the outbox meanwhile");

    const health = await rig.cli(["health"]);
    equal(health.code, r.healthCode, health.stdout + health.stderr);
    match(health.stdout, r.healthText);
    const json = JSON.parse((await rig.cli(["health", "--json"])).stdout);
    equal(json.checks["redis-primary:writes"][0].observedValue, r.reason);
    const metrics = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
    match(metrics, new RegExp(`btcfeed_primary_write_failure\\{reason="${r.reason}"\\} 1`));
    match(
      rig.stream!.lines.join("\n"),
      new RegExp(`"event":"primary redis unhealthy".*"${r.reason}"`),
    );

    await r.heal(rig);
    assertClean(await rig.settle());
    await waitFor(() => rig.status()?.mode === "primary", 10_000, "back on the primary");
    equal(rig.status()!.primary.reason, null);
  } finally {
    await rig.stop();
  }
}

async function info(redis: Redis, section: string, field: string): Promise<string> {
  const text = await redis.info(section);
  return new RegExp(`^${field}:(.*)$`, "m").exec(text)?.[1].trim() ?? "";
}

Deno.test("a primary that is a read-only replica keeps the stream in failover, then REPLICAOF NO ONE delivers every trade once", async () => {
  let master: RedisServer | null = null;
  try {
    await refusedThenHealed({
      reason: "readonly",
      beforeStart: true,
      async provoke(rig) {
        master = await startRedis();
        await rig.reader.replicaof("127.0.0.1", master.port);
        await rig.reader.config("SET", "replica-read-only", "yes");
        await waitFor(
          async () => (await info(rig.reader, "replication", "master_link_status")) === "up",
          10_000,
          "replica linked",
        );
      },
      async heal(rig) {
        await rig.reader.replicaof("NO", "ONE");
      },
      healthCode: 1,
      healthText: /primary is a read-only replica/,
    });
  } finally {
    await (master as RedisServer | null)?.stop();
  }
});

Deno.test("a primary out of memory (noeviction) is health CRITICAL without flapping; maxmemory 0 recovers every trade", async () => {
  await refusedThenHealed({
    reason: "oom",
    async provoke(rig) {
      const fill = rig.reader.pipeline();
      for (let i = 0; i < 200; i++) fill.set(`fill:${i}`, "x".repeat(1_000));
      await fill.exec();
      await rig.reader.config("SET", "maxmemory-policy", "noeviction");
      const used = Number(await info(rig.reader, "memory", "used_memory"));
      await rig.reader.config("SET", "maxmemory", String(used - 256 * 1024));
    },
    async heal(rig) {
      await rig.reader.config("SET", "maxmemory", "0");
    },
    healthCode: 2,
    healthText: /primary out of memory/,
  });
});

Deno.test("a primary whose ACL loses XADD is health CRITICAL naming XADD; granting it back recovers every trade", async () => {
  await refusedThenHealed({
    reason: "noperm",
    async provoke(rig) {
      await rig.reader.call("ACL", "SETUSER", "default", "-xadd");
    },
    async heal(rig) {
      await rig.reader.call("ACL", "SETUSER", "default", "+xadd");
    },
    healthCode: 2,
    healthText: /NOPERM.*XADD/,
  });
});

Deno.test("a primary whose BGSAVE failed (MISCONF) is health CRITICAL saying so; a good BGSAVE recovers every trade", async () => {
  const blocker = (rig: Rig) => `${rig.primary.dir}/dump.rdb`;
  await refusedThenHealed({
    reason: "misconf",
    async provoke(rig) {
      // The RDB's final name is a non-empty directory: the rename after the dump fails.
      await Deno.mkdir(`${blocker(rig)}/in-the-way`, { recursive: true });
      await rig.reader.config("SET", "stop-writes-on-bgsave-error", "yes");
      await rig.reader.config("SET", "save", "3600 1"); // without a save point MISCONF never applies
      await rig.reader.bgsave();
      await waitFor(
        async () => (await info(rig.reader, "persistence", "rdb_last_bgsave_status")) === "err",
        10_000,
        "the BGSAVE failed",
      );
    },
    async heal(rig) {
      await Deno.remove(blocker(rig), { recursive: true });
      await waitFor(
        async () => {
          await rig.reader.bgsave("SCHEDULE").catch(() => {});
          return (await info(rig.reader, "persistence", "rdb_last_bgsave_status")) === "ok";
        },
        10_000,
        "a good BGSAVE",
      );
    },
    healthCode: 2,
    healthText: /MISCONF/,
  });
});

Deno.test("at start, an ACL user lacking a command the write path needs is one clear line naming it, exit 2", async () => {
  const redis = await startRedis({ aclUser: { user: "feeder", password: "right-pass" } });
  const fake = await startFakeExchange({ exchange: "binance", trades: 10, ratePerSec: 100 });
  const dataDir = await Deno.makeTempDir();
  const admin = new Redis(redis.url);
  try {
    await admin.call("ACL", "SETUSER", "feeder", "-publish");
    const r = await runCli([
      "stream",
      ...["--exchanges", "binance", "--exchange-url", `binance=${fake.wsUrl}`, "--http", "off"],
      ...["--primary", redis.url, "--data-dir", dataDir],
    ]);
    equal(r.code, 2, r.stderr);
    const errorLines = r.stderr.trim().split("\n").filter((l) => l.startsWith("btcfeed:"));
    equal(errorLines.length, 1, r.stderr);
    match(errorLines[0], /--primary: .*NOPERM.*PUBLISH on btcfeed:trades/);
    ok(!r.stderr.includes("right-pass"), r.stderr);
  } finally {
    admin.disconnect();
    await fake.stop();
    await redis.stop();
    await Deno.remove(dataDir, { recursive: true });
  }
});
