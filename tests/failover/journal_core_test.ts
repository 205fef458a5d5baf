/**
 * The core over the journal, with real redis-servers: a trade counts as received only once its
 * group commit is on disk; a direct primary write acknowledges its rows; with
 * `--primary-replicas N` rows are acknowledged only after `WAIT N` confirms them — a real replica
 * confirms, a missing one leaves them pending (counted, re-sent, health warn).
 */

import assert from "node:assert/strict";
import { Redis } from "ioredis";
import { startRedis } from "../support/redis_server.ts";
import { waitFor } from "../support/cli.ts";
import { resolveConfig } from "../../lib/config.ts";
import { closeTarget, confirmReplayed, openTarget } from "../../lib/failover/targets.ts";
import { confirmReplicas, ReplicaShortfall } from "../../lib/failover/replicas.ts";
import { marketKeys } from "../../lib/redis/keys.ts";
import { report } from "../../lib/health/report.ts";
import { inputFromStatus } from "../../lib/health/from_status.ts";
import { status } from "../health/_status_fixture.ts";
import { testTrade, withTempDir } from "./_outbox_support.ts";
import { withCore } from "./_journal_core.ts";

const KEY = marketKeys("btcfeed", "binance:BTC-USDT").trades;

Deno.test("a trade counts as received only once its group commit is on disk, then a primary write acknowledges it", async () => {
  const primary = await startRedis();
  const reader = new Redis(primary.url);
  try {
    await withTempDir((dir) =>
      withCore(primary.url, dir, 0, async (core, journal) => {
        const batch = Array.from({ length: 10 }, (_, i) => testTrade(i));
        core.submit(batch);
        assert.equal(core.counters.tradesReceived, 0, "not yet committed");
        assert.equal(journal.maxSeq(), 0);
        await waitFor(() => core.counters.tradesReceived === 10, 5_000, "commit");
        assert.equal(journal.maxSeq() >= 10, true, "committed before it counted");
        await waitFor(async () => (await reader.xlen(KEY)) === 10, 5_000, "on the primary");
        await waitFor(() => journal.depth() === 0, 5_000, "acknowledged");
        assert.deepEqual(journal.lastAcked("binance:BTC-USDT")?.id, batch[9].id);
        assert.equal(core.status().outbox.depth, 0);
        assert.equal(core.counters.outboxAppended, 0, "committed on the primary path");
      })
    );
  } finally {
    reader.disconnect();
    await primary.stop();
  }
});

Deno.test("--primary-replicas: a real replica's WAIT acknowledges; asking for more replicas than exist keeps rows pending, counted, health warn", async () => {
  const primary = await startRedis();
  const replica = await startRedis({ args: ["--replicaof", "127.0.0.1", String(primary.port)] });
  const reader = new Redis(primary.url);
  try {
    await waitFor(
      async () => /slave0:.*state=online/.test(await reader.info("replication")),
      10_000,
      "replica attached",
    );
    await withTempDir((dir) =>
      withCore(primary.url, dir, 1, async (core, journal) => {
        core.submit(Array.from({ length: 50 }, (_, i) => testTrade(i)));
        await waitFor(() => core.counters.tradesReceived === 50 && journal.depth() === 0, 5_000);
        assert.equal(core.counters.replicaShortfalls, 0);
        assert.equal(core.mode, "primary");
      }, 2_000) // WAIT gets 1 s: a loaded machine's replica still answers in time
    );
    await withTempDir((dir) =>
      withCore(primary.url, dir, 2, async (core, journal) => {
        core.submit(Array.from({ length: 50 }, (_, i) => testTrade(100 + i)));
        await waitFor(() => core.counters.replicaShortfalls >= 2, 10_000, "shortfalls, re-sent");
        assert.equal(await reader.xlen(KEY), 100, "written to the primary");
        assert.equal(journal.depth(), 50, "but still pending: not acknowledged");
        assert.notEqual(core.mode, "primary");
        const reason = core.status().transitions.at(-1)!.reason;
        assert.match(reason, /WAIT confirmed 1 of 2/);
        const now = Date.now();
        const doc = report(inputFromStatus(status({ ...core.status() }, now), now)).document;
        assert.equal(doc.checks["redis-primary:replicas"]?.[0].status, "warn");
        assert.equal(doc.status, "warn");
      })
    );
  } finally {
    reader.disconnect();
    await replica.stop();
    await primary.stop();
  }
});

Deno.test("rows made pending again behind a direct write (a dead-letter retry, a rewind) are replayed, not acknowledged unwritten", async () => {
  const primary = await startRedis();
  const reader = new Redis(primary.url);
  const other = "kraken:BTC-USD";
  const otherKey = marketKeys("btcfeed", other).trades;
  try {
    await withTempDir((dir) =>
      withCore(primary.url, dir, 0, async (core, journal) => {
        const first = Array.from({ length: 50 }, (_, i) => testTrade(i, other));
        core.submit(first);
        await waitFor(async () => (await reader.xlen(otherKey)) === 50, 5_000, "on the primary");
        await waitFor(() => journal.lastAcked(other)?.id === first[49].id, 5_000, "acknowledged");
        // The primary loses that market; its retained tail after trade 30 becomes pending again.
        await reader.del(otherKey);
        assert.equal(journal.rewindAfter(other, first[29].id), 20);
        // A direct write of another market must not acknowledge those 20 unwritten.
        const next = Array.from({ length: 10 }, (_, i) => testTrade(50 + i));
        core.submit(next);
        await waitFor(async () => (await reader.xlen(KEY)) === 10, 10_000, "the new trades");
        await waitFor(() => journal.depth() === 0 && core.mode === "primary", 10_000, "replayed");
        const ids = async (key: string) => (await reader.xrange(key, "-", "+")).map(([id]) => id);
        assert.deepEqual(await ids(otherKey), first.slice(30).map((t) => t.id));
        assert.deepEqual(await ids(KEY), next.map((t) => t.id));
      })
    );
  } finally {
    reader.disconnect();
    await primary.stop();
  }
});

Deno.test("--primary-replicas: a replayed batch counts only once a replica holds the replay connection's writes", async () => {
  const primary = await startRedis();
  const replica = await startRedis({ args: ["--replicaof", "127.0.0.1", String(primary.port)] });
  const reader = new Redis(primary.url);
  // A live deadline longer than every WAIT here: the command timeout must not decide.
  const config = resolveConfig({ primary: primary.url, deadlineMs: "10000" }, {});
  const target = openTarget(config.primaryUrl, "primary", config);
  try {
    await waitFor(
      async () => /slave0:.*state=online/.test(await reader.info("replication")),
      10_000,
      "replica attached",
    );
    // The live connection writes and its write is confirmed; then the replica stops taking any.
    await target.writer.apply([testTrade(0)], () => false);
    await confirmReplicas(target.redis, 1, 2_000);
    replica.pause();
    await target.replayWriter.apply([testTrade(1)], () => false);
    // WAIT on the live connection would still say 1: its own writes are all replicated.
    await confirmReplicas(target.redis, 1, 200);
    await assert.rejects(confirmReplayed(target, 1, 200), ReplicaShortfall);
    replica.resume();
    await confirmReplayed(target, 1, 5_000);
  } finally {
    closeTarget(target);
    reader.disconnect();
    await replica.stop();
    await primary.stop();
  }
});
