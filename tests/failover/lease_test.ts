import assert from "node:assert/strict";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { Journal } from "../../lib/store/journal.ts";
import { holderPid, isPidAlive, leaseHolderId } from "../../lib/store/lease.ts";
import { type Child, spawnChild, withTempDir } from "./_outbox_support.ts";

const A = `sync:${Deno.pid}:a`;
const B = `stream:${Deno.pid}:b`;

Deno.test("lease: one holder at a time; the same holder may re-acquire; only the holder releases", async () => {
  await withTempDir((dir) => {
    const one = Journal.open(dir);
    const two = Journal.open(dir);
    assert.equal(one.acquireLease(A, 10_000, 1_000), true);
    assert.equal(two.acquireLease(B, 10_000, 1_001), false);
    assert.equal(two.leaseHolder(1_001), A);
    assert.equal(one.acquireLease(A, 10_000, 2_000), true, "re-acquire extends");
    assert.deepEqual(two.leaseInfo(), { holder: A, expiresAt: 12_000 });
    two.releaseLease(B);
    assert.equal(two.leaseHolder(2_000), A, "a non-holder's release changes nothing");
    one.releaseLease(A);
    assert.equal(two.leaseHolder(2_000), null);
    assert.equal(two.acquireLease(B, 10_000, 2_001), true);
    one.close();
    two.close();
  });
});

Deno.test("lease: an expired lease is taken over and the old holder's renew fails (fencing)", async () => {
  await withTempDir((dir) => {
    const box = Journal.open(dir);
    assert.equal(box.acquireLease(A, 1_000, 0), true);
    assert.equal(box.renewLease(A, 1_000, 500), true, "renew moves expiry to 1500");
    assert.equal(box.acquireLease(B, 1_000, 1_499), false);
    assert.equal(box.leaseHolder(1_500), null, "expired at 1500");
    assert.equal(box.acquireLease(B, 1_000, 1_500), true);
    assert.equal(box.renewLease(A, 1_000, 1_600), false, "the old holder must stop");
    assert.equal(box.renewLease(B, 1_000, 1_600), true);
    box.releaseLease(A);
    assert.equal(box.leaseHolder(1_600), B);
    box.close();
  });
});

Deno.test("lease: a renew after expiry still succeeds when nobody took the lease meanwhile", async () => {
  await withTempDir((dir) => {
    const box = Journal.open(dir);
    box.acquireLease(A, 100, 0);
    assert.equal(box.renewLease(A, 100, 5_000), true);
    assert.equal(box.leaseHolder(5_050), A);
    box.close();
  });
});

Deno.test("lease: a holder killed with kill -9 is taken over at once, without waiting for expiry", async () => {
  // The contenders are processes with the btcfeed task's permissions, under which Deno refuses
  // /proc: liveness then comes from `kill -0`.
  await withTempDir(async (dir) => {
    const lease = (c: Child) => c.waitFor(/^(acquired|busy)/);
    const children: Child[] = [];
    const spawn = () => children[children.push(spawnChild(["lease", dir, "600000"])) - 1];
    try {
      const holder = spawn();
      const held = await lease(holder);
      assert.match(held ?? "", /^acquired child:\d+:/);
      assert.equal(await lease(spawn()), "busy", "a live holder keeps its lease");
      holder.kill("SIGKILL");
      await holder.finish();
      assert.match(await lease(spawn()) ?? "", /^acquired/, "a dead holder's lease is taken");
      const box = Journal.open(dir);
      assert.equal(box.renewLease(held!.split(" ")[1], 10_000), false, "the dead holder is fenced");
      box.close();
    } finally {
      for (const c of children) c.kill("SIGKILL");
      await Promise.all(children.map((c) => c.finish()));
    }
  });
});

Deno.test("lease: a dead pid recorded by another host (or container) is not taken over before expiry", async () => {
  await withTempDir(async (dir) => {
    const box = Journal.open(dir);
    const gone = new Deno.Command("true").spawn();
    await gone.status;
    const holder = `sync:${gone.pid}:x`;
    assert.equal(isPidAlive(gone.pid), false);
    assert.equal(box.acquireLease(holder, 60_000, 0), true);
    assert.equal(box.acquireLease(A, 60_000, 1), true, "same host, dead pid: taken over");
    box.releaseLease(A);
    assert.equal(box.acquireLease(holder, 60_000, 0), true);
    const db = new DatabaseSync(join(dir, "outbox.sqlite"));
    db.exec("UPDATE lease SET host = 'some-other-container'");
    db.close();
    assert.equal(box.acquireLease(A, 60_000, 1), false, "another host: must expire first");
    assert.equal(box.acquireLease(A, 60_000, 60_000), true);
    box.close();
  });
});

Deno.test("lease: of several processes racing for a free lease, exactly one wins", async () => {
  await withTempDir(async (dir) => {
    Journal.open(dir).close();
    const children: Child[] = Array.from({ length: 4 }, () => spawnChild(["lease", dir, "60000"]));
    try {
      const results = await Promise.all(children.map((c) => c.waitFor(/^(acquired|busy)/)));
      assert.equal(results.filter((r) => r?.startsWith("acquired")).length, 1, `${results}`);
      assert.equal(results.filter((r) => r === "busy").length, 3);
    } finally {
      await Promise.all(children.map((c) => c.finish()));
    }
  });
});

Deno.test("lease holder ids carry the pid; unparseable holders are never judged dead", () => {
  const id = leaseHolderId("sync");
  assert.match(id, new RegExp(`^sync:${Deno.pid}:[0-9a-z]+$`));
  assert.equal(holderPid(id), Deno.pid);
  assert.equal(holderPid("sync:12345:abc"), 12345);
  assert.equal(holderPid("no-pid-here"), null);
  assert.equal(isPidAlive(Deno.pid), true);
});
