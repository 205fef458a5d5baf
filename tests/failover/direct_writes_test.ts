/**
 * Direct primary writes with two batches in flight (lib/failover/direct_writes.ts), against a
 * real redis-server and a real journal: the second batch is sent before the first's outcome is
 * consumed, both land in commit order and are acknowledged in turn; when the first fails, the
 * second's outcome is never acknowledged (its rows stay pending), and `drop` forgets a batch in
 * flight the same way.
 */

import assert from "node:assert/strict";
import { startRedis } from "../support/redis_server.ts";
import { resolveConfig } from "../../lib/config.ts";
import { Journal } from "../../lib/store/journal.ts";
import { closeTarget, openTarget, type RedisTarget } from "../../lib/failover/targets.ts";
import { DirectWrites } from "../../lib/failover/direct_writes.ts";
import { ReplicaShortfall } from "../../lib/failover/replicas.ts";
import { marketKeys } from "../../lib/redis/keys.ts";
import { monotonicNow } from "../../lib/time.ts";
import { testTrade, withTempDir } from "./_outbox_support.ts";

const KEY = marketKeys("btcfeed", "binance:BTC-USDT").trades;
const BATCH = 10;

interface Rig {
  journal: Journal;
  target: RedisTarget;
  direct: DirectWrites;
  /** How many `apply` calls were made so far. */
  applies: () => number;
}

async function withDirect(replicas: number, fn: (rig: Rig) => Promise<void>): Promise<void> {
  const server = await startRedis();
  try {
    await withTempDir(async (dir) => {
      const config = resolveConfig({ primary: server.url, dataDir: dir, deadlineMs: "2000" }, {});
      const journal = Journal.open(dir);
      const target = openTarget(config.primaryUrl, "primary", config);
      let applies = 0;
      const apply = target.writer.apply.bind(target.writer);
      target.writer.apply = (trades, isConsolidated) => (applies++, apply(trades, isConsolidated));
      const direct = new DirectWrites({
        journal,
        primary: target,
        isConsolidated: () => false,
        replicas,
        deadlineMs: config.deadlineMs,
        maxBatch: BATCH,
        clock: monotonicNow,
        refused: () => assert.fail("nothing is refused here"),
      });
      try {
        await target.redis.connect();
        await fn({ journal, target, direct, applies: () => applies });
      } finally {
        closeTarget(target);
        journal.close();
      }
    });
  } finally {
    await server.stop();
  }
}

/** Commits `n` trades to the journal and hands them to `direct`, as the core does. */
function commit(rig: Rig, from: number, n: number): void {
  const trades = Array.from({ length: n }, (_, i) => testTrade(from + i));
  const { stored, seqs } = rig.journal.commit(trades);
  assert.equal(stored.length, n);
  rig.direct.push(stored, seqs);
}

Deno.test("the next batch is sent behind the one awaited; both land in order and are acknowledged", async () => {
  await withDirect(0, async (rig) => {
    commit(rig, 0, 3 * BATCH);
    const first = rig.direct.writeNext();
    assert.equal(rig.applies(), 2, "the second batch is sent before the first's outcome");
    const a = await first;
    assert.ok(a.ok && !a.foreign && a.result.applied === BATCH);
    assert.equal(rig.journal.depth(), 2 * BATCH, "only the first batch is acknowledged");
    assert.equal(rig.direct.size, 2 * BATCH);
    const b = await rig.direct.writeNext();
    assert.ok(b.ok && !b.foreign && b.result.applied === BATCH);
    const c = await rig.direct.writeNext();
    assert.ok(c.ok && c.result.applied === BATCH);
    assert.equal(rig.applies(), 3);
    assert.equal(rig.journal.depth(), 0);
    assert.equal(rig.direct.size, 0);
    const ids = (await rig.target.redis.xrange(KEY, "-", "+")).map(([id]) => id);
    assert.deepEqual(ids, Array.from({ length: 3 * BATCH }, (_, i) => testTrade(i).id));
  });
});

Deno.test("when the awaited batch fails, the one sent behind it is not acknowledged, even though it landed", async () => {
  // WAIT 1 with no replica: each write lands on the primary, then is refused as unconfirmed.
  await withDirect(1, async (rig) => {
    commit(rig, 0, 2 * BATCH);
    const a = await rig.direct.writeNext();
    assert.ok(!a.ok && a.error instanceof ReplicaShortfall, String(!a.ok && a.error));
    assert.equal(rig.applies(), 2);
    assert.equal(await rig.target.redis.xlen(KEY), 2 * BATCH, "both batches reached the primary");
    assert.equal(rig.journal.depth(), 2 * BATCH, "yet nothing is acknowledged");
    assert.equal(rig.direct.size, 2 * BATCH, "both batches are back, in order");
    const { trades } = rig.direct.drop();
    assert.deepEqual(
      trades.map((t) => t.id),
      Array.from({ length: 2 * BATCH }, (_, i) => testTrade(i).id),
    );
    assert.equal(rig.journal.depth(), 2 * BATCH);
  });
});

Deno.test("drop forgets a batch in flight: it is handed back and never acknowledged", async () => {
  await withDirect(0, async (rig) => {
    commit(rig, 0, 2 * BATCH + 5);
    assert.ok((await rig.direct.writeNext()).ok);
    assert.equal(rig.journal.depth(), BATCH + 5);
    // The second batch is in flight now; the core leaves `primary` mode.
    const { trades, unjournaled } = rig.direct.drop();
    assert.equal(unjournaled, 0);
    assert.deepEqual(
      trades.map((t) => t.id),
      Array.from({ length: BATCH + 5 }, (_, i) => testTrade(BATCH + i).id),
    );
    assert.equal(rig.direct.size, 0);
    await new Promise((r) => setTimeout(r, 200)); // the forgotten batch's reply arrives
    assert.equal(rig.journal.depth(), BATCH + 5, "its rows stay pending for the replayer");
    commit(rig, 100, 1);
    const after = await rig.direct.writeNext();
    // Written, but not acknowledged: the journal holds rows this copy does not (the replayer's).
    assert.ok(after.ok && after.result.applied === 1 && after.foreign);
    assert.equal(rig.journal.depth(), BATCH + 6);
    assert.equal(rig.applies(), 3, "nothing of the forgotten batch is sent again by it");
  });
});
