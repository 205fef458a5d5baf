import assert from "node:assert/strict";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { Journal, JournalError } from "../../lib/store/journal.ts";
import type { Trade } from "../../lib/trade.ts";
import { indexOf, spawnChild, testTrade, withTempDir } from "./_outbox_support.ts";

const trades = (from: number, n: number, market?: string) =>
  Array.from({ length: n }, (_, i) => testTrade(from + i, market));

function integrity(dir: string): string {
  const db = new DatabaseSync(join(dir, "outbox.sqlite"));
  try {
    return String(
      (db.prepare("PRAGMA integrity_check").get() as Record<string, unknown>)
        .integrity_check,
    );
  } finally {
    db.close();
  }
}

function countRows(dir: string): number {
  const db = new DatabaseSync(join(dir, "outbox.sqlite"));
  try {
    return Number(
      (db.prepare(
        "SELECT count(*) AS n FROM journal j JOIN markets m ON m.id = j.market_id WHERE j.seq > m.acked_seq",
      ).get() as { n: number }).n,
    );
  } finally {
    db.close();
  }
}

Deno.test("outbox keeps every trade exactly and in order across close and reopen", async () => {
  await withTempDir((dir) => {
    const a = Journal.open(join(dir, "nested", "data"));
    assert.deepEqual(a.append(trades(0, 3)), { ok: true, appended: 3 });
    assert.deepEqual(a.append(trades(3, 4, "kraken:BTC-USD")), { ok: true, appended: 4 });
    const before = a.peek(100);
    a.close();
    a.close();
    const b = Journal.open(join(dir, "nested", "data"));
    const rows = b.peek(100);
    assert.deepEqual(rows, before);
    assert.deepEqual(rows.map((r) => r.trade), [
      ...trades(0, 3),
      ...trades(3, 4, "kraken:BTC-USD"),
    ]);
    assert.ok(rows.every((r, i) => i === 0 || r.seq > rows[i - 1].seq));
    assert.equal(b.depth(), 7);
    assert.deepEqual(b.peek(2, rows[2].seq).map((r) => r.seq), [rows[3].seq, rows[4].seq]);
    assert.equal(b.ack(rows[1].seq), 2);
    assert.equal(b.append(trades(7, 1)).ok, true);
    assert.ok(b.peek(100).at(-1)!.seq > rows.at(-1)!.seq, "seq is never reused");
    b.close();
  });
});

Deno.test("seq is never reused after the outbox was drained, so remove(upTo) cannot hit newer rows", async () => {
  await withTempDir((dir) => {
    const box = Journal.open(dir);
    box.append(trades(0, 5));
    const last = box.peek(10).at(-1)!.seq;
    box.ack(last);
    assert.equal(box.depth(), 0);
    box.append(trades(5, 2));
    assert.equal(box.ack(last), 0, "rows appended after the peek survive remove(oldSeq)");
    assert.deepEqual(box.peek(10).map((r) => indexOf(r.trade)), [5, 6]);
    box.close();
  });
});

Deno.test("at the limit the newest trades are refused, counted and reported; older ones are kept", async () => {
  await withTempDir((dir) => {
    const box = Journal.open(dir, { maxTrades: 10 });
    assert.deepEqual(box.append(trades(0, 7)), { ok: true, appended: 7 });
    const out = box.append(trades(7, 5));
    assert.equal(out.ok, false);
    assert.ok(!out.ok && out.reason === "full" && out.appended === 3 && out.dropped === 2);
    assert.match(!out.ok ? out.message : "", /2 refused because the outbox is full/);
    assert.deepEqual(box.peek(100).map((r) => indexOf(r.trade)), [...Array(10).keys()]);
    assert.equal(box.isFull(), true);
    const none = box.append(trades(12, 1));
    assert.ok(!none.ok && none.reason === "full" && none.appended === 0 && none.dropped === 1);
    box.ack(box.peek(2).at(-1)!.seq);
    assert.equal(box.isFull(), false);
    assert.deepEqual(box.append(trades(13, 2)), { ok: true, appended: 2 });
    box.close();
  });
});

Deno.test("malformed trades are counted as dropped, never stored and never thrown", async () => {
  await withTempDir((dir) => {
    const box = Journal.open(dir);
    const bad = [{ ...testTrade(1), side: "up" }, { ...testTrade(2), ts: NaN }, null];
    const out = box.append([testTrade(0), ...bad as unknown as Trade[], testTrade(3)]);
    assert.ok(!out.ok && out.reason === "invalid" && out.appended === 2 && out.dropped === 3);
    assert.deepEqual(box.peek(10).map((r) => indexOf(r.trade)), [0, 3]);
    box.close();
  });
});

Deno.test("disk full is an outcome: the batch is refused whole, earlier rows stay intact, nothing corrupt", async () => {
  await withTempDir((dir) => {
    const box = Journal.open(dir, { maxPages: 40 });
    let next = 0;
    let out;
    for (let i = 0; i < 1000; i++) {
      out = box.append(trades(next, 50));
      if (!out.ok) break;
      next += 50;
    }
    assert.ok(out && !out.ok, "the page cap must be reached");
    assert.equal(out.reason, "disk_full", out.message);
    assert.equal(out.appended, 0);
    assert.equal(out.dropped, 50);
    assert.match(out.message, /full/);
    assert.ok(next > 0);
    assert.equal(box.depth(), next);
    assert.deepEqual(box.peek(next + 100).map((r) => r.trade), trades(0, next));
    // Removing frees pages for new trades.
    box.ack(box.peek(200).at(-1)!.seq);
    assert.equal(box.append(trades(next, 50)).ok, true);
    box.close();
    assert.equal(integrity(dir), "ok");
  });
});

Deno.test("dead-lettering moves rows atomically: a row is in exactly one table, even on disk full", async () => {
  await withTempDir((dir) => {
    const box = Journal.open(dir);
    box.append(trades(0, 5));
    const rows = box.peek(5);
    assert.equal(box.deadLetter([rows[1], rows[3]], "out-of-order on the primary", 42), 2);
    assert.deepEqual(box.peek(10).map((r) => indexOf(r.trade)), [0, 2, 4]);
    assert.equal(box.depth(), 3);
    assert.equal(box.deadLetterCount(), 2);
    assert.deepEqual(box.deadLetters(10), [
      { ...rows[1], reason: "out-of-order on the primary", at: 42 },
      { ...rows[3], reason: "out-of-order on the primary", at: 42 },
    ]);
    assert.equal(box.deadLetter([rows[1]], "again"), 0, "a moved row is not moved twice");
    box.close();

    // Fill a capped outbox, then dead-letter more rows than the free pages can hold.
    const capped = Journal.open(join(dir, "capped"), { maxPages: 40 });
    for (let n = 0; capped.append(trades(n, 20)).ok; n += 20) { /* fill */ }
    const all = capped.peek(100_000);
    assert.throws(
      () => capped.deadLetter(all, "x".repeat(2000)),
      (e) => e instanceof JournalError && e.reason === "disk_full",
    );
    assert.equal(capped.deadLetterCount(), 0);
    assert.equal(capped.depth(), all.length);
    assert.deepEqual(capped.peek(100_000), all);
    capped.close();
    assert.equal(integrity(join(dir, "capped")), "ok");
  });
});

Deno.test("kill -9 during appends loses no acknowledged batch and leaves no torn or corrupt row", async () => {
  for (let round = 0; round < 3; round++) {
    await withTempDir(async (dir) => {
      const child = spawnChild(["append", dir, "bitstamp:BTC-USD", "0", String(1 + round * 97)]);
      try {
        assert.ok(await child.waitFor(/^committed/), "child appended");
        await new Promise((r) => setTimeout(r, 50 + Math.random() * 250));
        child.kill("SIGKILL");
      } finally {
        const status = await child.finish();
        assert.equal(status.signal, "SIGKILL");
      }
      const acked = Math.max(...child.lines.map((l) => Number(l.split(" ")[1])));
      assert.equal(integrity(dir), "ok");
      const box = Journal.open(dir);
      const rows = box.peek(10_000_000);
      const n = rows.length;
      assert.ok(n >= acked + 1, `acknowledged up to ${acked}, found ${n}`);
      assert.equal(n % (1 + round * 97), 0, "whole batches only");
      assert.deepEqual(rows.map((r) => r.trade), trades(0, n, "bitstamp:BTC-USD"));
      assert.equal(box.depth(), n);
      box.close();
    });
  }
});

Deno.test("two writer processes and a remover share the outbox without loss, reordering or corruption", async () => {
  await withTempDir(async (dir) => {
    const box = Journal.open(dir);
    const writers = ["okx:BTC-USDT", "bybit:BTC-USDT"].map((m) =>
      spawnChild(["append", dir, m, "150", "40"])
    );
    const seen = new Map<string, number[]>([["okx:BTC-USDT", []], ["bybit:BTC-USDT", []]]);
    const done = Promise.all(writers.map((w) => w.finish()));
    let finished = false;
    done.then(() => finished = true, () => finished = true);
    let lastSeq = 0;
    while (true) {
      const rows = box.peek(500);
      for (const r of rows) {
        assert.ok(r.seq > lastSeq);
        lastSeq = r.seq;
        seen.get(r.trade.market)!.push(indexOf(r.trade));
      }
      if (rows.length) box.ack(rows.at(-1)!.seq);
      else if (finished) break;
      await new Promise((r) => setTimeout(r, 2));
    }
    const statuses = await done;
    assert.ok(statuses.every((s) => s.success), writers.map((w) => w.lines.at(-1)).join("; "));
    for (const indexes of seen.values()) assert.deepEqual(indexes, [...Array(6000).keys()]);
    assert.equal(box.depth(), 0);
    box.close();
    assert.equal(countRows(dir), 0);
    assert.equal(integrity(dir), "ok");
  });
});

Deno.test("bytes() reports the database and WAL size on disk", async () => {
  await withTempDir((dir) => {
    const box = Journal.open(dir);
    const empty = box.bytes();
    box.append(trades(0, 2000));
    assert.ok(box.bytes() > empty + 2000 * 40, `${empty} -> ${box.bytes()}`);
    box.close();
  });
});

Deno.test("summary, maxSeq and lastTrade describe what the outbox holds and last accepted", async () => {
  await withTempDir((dir) => {
    const box = Journal.open(dir);
    assert.equal(box.maxSeq(), 0);
    assert.equal(box.lastTrade("okx:BTC-USDT"), null);
    box.append([...trades(0, 3, "okx:BTC-USDT"), ...trades(10, 5, "bybit:BTC-USDT")]);
    box.append(trades(3, 2, "okx:BTC-USDT"));
    const rows = box.peek(100);
    assert.equal(box.maxSeq(), rows.at(-1)!.seq);
    const t4 = testTrade(4, "okx:BTC-USDT");
    assert.deepEqual(box.summary(), [
      {
        market: "bybit:BTC-USDT",
        count: 5,
        firstSeq: rows[3].seq,
        lastSeq: rows[7].seq,
        firstId: testTrade(10).id,
        lastId: testTrade(14).id,
      },
      {
        market: "okx:BTC-USDT",
        count: 5,
        firstSeq: rows[0].seq,
        lastSeq: rows[9].seq,
        firstId: testTrade(0).id,
        lastId: t4.id,
      },
    ]);
    assert.ok(t4.id !== `${t4.ts}-${t4.tradeId}`, "trade 4 carries a non-derived entry ID");
    const last = { market: t4.market, tradeId: t4.tradeId, ts: t4.ts, id: t4.id };
    assert.deepEqual(box.lastTrade("okx:BTC-USDT"), last);
    box.ack(box.maxSeq());
    assert.deepEqual(box.summary(), []);
    assert.deepEqual(box.lastTrade("okx:BTC-USDT"), last, "kept after the rows were replayed");
    box.close();
  });
});

Deno.test("an outbox written by a newer schema is refused, not misread", async () => {
  await withTempDir((dir) => {
    Journal.open(dir).close();
    const db = new DatabaseSync(join(dir, "outbox.sqlite"));
    db.exec("PRAGMA user_version = 99");
    db.close();
    assert.throws(() => Journal.open(dir), /schema 99/);
  });
});
