/**
 * The journal's promises beyond the outbox's (outbox_test.ts covers append, order, limit, disk
 * full, dead letters and kill -9): acknowledgement keeps rows as a retained tail, retention never
 * prunes a pending row or a market's newest acknowledged one, a rewind makes retained rows pending
 * again, a full disk evicts retention before refusing trades, and an earlier version's outbox
 * becomes pending rows without losing one.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { Journal } from "../../lib/store/journal.ts";
import { entryIdFor } from "../../lib/trade.ts";
import { indexOf, testTrade, withTempDir } from "./_outbox_support.ts";

const trades = (from: number, n: number, market?: string) =>
  Array.from({ length: n }, (_, i) => testTrade(from + i, market));
const point = (i: number, seq: number, market?: string) => {
  const t = testTrade(i, market);
  return { seq, id: t.id, tradeId: t.tradeId, ts: t.ts };
};

Deno.test("acknowledged rows leave the pending set but stay retained: lastAcked and oldestRetained name them", async () => {
  await withTempDir((dir) => {
    const j = Journal.open(dir);
    j.append([...trades(0, 3), ...trades(100, 2, "kraken:BTC-USD")]);
    const rows = j.peek(10);
    assert.equal(j.lastAcked("binance:BTC-USDT"), null);
    assert.equal(j.ack(rows[3].seq), 4);
    assert.equal(j.depth(), 1);
    assert.deepEqual(j.peek(10).map((r) => indexOf(r.trade)), [101]);
    assert.deepEqual(j.lastAcked("binance:BTC-USDT"), point(2, rows[2].seq));
    assert.deepEqual(j.lastAcked("kraken:BTC-USD"), point(100, rows[3].seq, "kraken:BTC-USD"));
    assert.deepEqual(j.oldestRetained("binance:BTC-USDT"), point(0, rows[0].seq));
    assert.deepEqual(j.summary().map((m) => [m.market, m.count]), [["kraken:BTC-USD", 1]]);
    assert.equal(j.ack(rows[3].seq), 0, "an ack is idempotent");
    assert.equal(j.ack(1e9), 1);
    j.append(trades(3, 2));
    assert.equal(j.depth(), 2, "an ack past the newest row does not swallow later appends");
    j.close();
  });
});

Deno.test("ackThrough acknowledges one market's pending rows up to an entry ID the primary has, never backwards, dead letters not counted", async () => {
  await withTempDir((dir) => {
    const j = Journal.open(dir);
    j.append([...trades(0, 3), ...trades(200, 2, "okx:BTC-USDT"), ...trades(3, 3)]);
    const dead = j.peek(10).find((r) => indexOf(r.trade) === 1)!;
    assert.equal(j.deadLetter([dead], "test"), 1);
    assert.equal(j.ackThrough("binance:BTC-USDT", testTrade(3).id), 3, "rows 0, 2 and 3");
    assert.deepEqual(j.peek(10).map((r) => indexOf(r.trade)), [200, 201, 4, 5]);
    assert.equal(j.depth(), 4);
    assert.equal(j.ackThrough("binance:BTC-USDT", testTrade(0).id), 0, "never backwards");
    assert.equal(j.ackThrough("binance:BTC-USDT", "99999999999999-0"), 2);
    assert.equal(j.ackThrough("nobody:X-Y", "0-1"), 0);
    assert.deepEqual(j.peek(10).map((r) => indexOf(r.trade)), [200, 201]);
    j.append(trades(6, 1));
    assert.deepEqual(j.peek(10).map((r) => indexOf(r.trade)), [200, 201, 6], "later rows pend");
    j.close();
  });
});

Deno.test("rewindAfter makes the retained rows after an entry ID pending again, in order, for that market only", async () => {
  await withTempDir((dir) => {
    const j = Journal.open(dir);
    j.append([...trades(0, 5), ...trades(200, 3, "okx:BTC-USDT")]);
    j.ack(j.maxSeq());
    assert.equal(j.rewindAfter("binance:BTC-USDT", testTrade(1).id), 3);
    assert.equal(j.depth(), 3);
    assert.deepEqual(j.peek(10).map((r) => indexOf(r.trade)), [2, 3, 4]);
    assert.deepEqual(j.lastAcked("binance:BTC-USDT")?.id, testTrade(1).id);
    assert.equal(j.rewindAfter("binance:BTC-USDT", testTrade(3).id), 0, "never forwards");
    assert.equal(j.rewindAfter("binance:BTC-USDT", "0-0"), 2, "all retained rows");
    assert.equal(j.lastAcked("binance:BTC-USDT"), null);
    assert.equal(j.rewindAfter("nobody:X-Y", "0-0"), 0);
    j.append(trades(5, 1));
    assert.deepEqual(j.peek(10).map((r) => indexOf(r.trade)), [0, 1, 2, 3, 4, 5]);
    assert.equal(j.ack(j.maxSeq()), 6);
    assert.equal(j.depth(), 0);
    j.close();
  });
});

Deno.test("prune keeps pending rows and each market's newest acknowledged row; deletes by age and by count", async () => {
  await withTempDir((dir) => {
    const j = Journal.open(dir, { retainMs: 60_000, retainTrades: 4, pruneChunk: 3 });
    j.append(trades(0, 10));
    j.ack(j.peek(10)[7].seq); // 0..7 acknowledged, 8 and 9 pending
    let pruned = 0;
    for (let n = j.prune(0); n > 0; n = j.prune(0)) pruned += n;
    assert.equal(pruned, 6, "by count: 10 rows, keep 4");
    assert.equal(j.oldestRetained("binance:BTC-USDT")?.id, testTrade(6).id);
    const later = testTrade(9).receivedAt + 60_001;
    while (j.prune(later) > 0) { /* by age */ }
    assert.equal(j.oldestRetained("binance:BTC-USDT")?.id, testTrade(7).id, "newest acked kept");
    assert.deepEqual(j.peek(10).map((r) => indexOf(r.trade)), [8, 9]);
    assert.equal(j.depth(), 2);
    j.ack(j.maxSeq());
    while (j.prune(later) > 0) { /* again */ }
    assert.equal(j.oldestRetained("binance:BTC-USDT")?.id, testTrade(9).id);
    assert.deepEqual(j.lastTrade("binance:BTC-USDT")?.id, testTrade(9).id);
    j.append(trades(10, 1));
    assert.deepEqual(j.peek(10).map((r) => indexOf(r.trade)), [10]);
    j.close();
  });
});

Deno.test("a full disk evicts the oldest retained rows before it refuses a trade", async () => {
  await withTempDir((dir) => {
    const j = Journal.open(dir, { maxPages: 40 });
    let next = 0;
    while (j.append(trades(next, 50)).ok) next += 50;
    j.ack(j.maxSeq());
    const oldest = j.oldestRetained("binance:BTC-USDT")!.id;
    for (let i = 0; i < 5; i++, next += 50) {
      const out = j.append(trades(next, 50));
      assert.deepEqual(out, { ok: true, appended: 50 }, `append ${i} after eviction`);
    }
    assert.notEqual(j.oldestRetained("binance:BTC-USDT")!.id, oldest, "retention yielded");
    assert.equal(j.depth(), 250);
    j.close();
  });
});

Deno.test("--journal-sync picks the fsync policy: FULL by default, NORMAL when asked; an unsynced ack leaves it so", async () => {
  await withTempDir((dir) => {
    for (const [options, want] of [[{}, "FULL"], [{ synchronous: "NORMAL" }, "NORMAL"]] as const) {
      const j = Journal.open(dir, options);
      assert.equal(j.synchronous(), want);
      assert.equal(j.append(trades(0, 10)).ok, true);
      assert.equal(j.ack(j.maxSeq()), 10);
      assert.equal(j.synchronous(), want, "the next commit is fsynced as before the ack");
      j.close();
    }
  });
});

/** The schema of btcfeed's previous version (outbox.sqlite, user_version 1), as it wrote it. */
const V1_SCHEMA = `
CREATE TABLE markets (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, last_trade_id TEXT,
  last_ts INTEGER, last_id TEXT) STRICT;
CREATE TABLE outbox (seq INTEGER PRIMARY KEY AUTOINCREMENT, market_id INTEGER NOT NULL,
  trade_id TEXT NOT NULL, price TEXT NOT NULL, size TEXT NOT NULL,
  side INTEGER NOT NULL CHECK (side IN (0, 1)), ts INTEGER NOT NULL, received_at INTEGER NOT NULL,
  id TEXT) STRICT;
CREATE TABLE dead_letter (seq INTEGER PRIMARY KEY, market TEXT NOT NULL, trade_id TEXT NOT NULL,
  price TEXT NOT NULL, size TEXT NOT NULL, side INTEGER NOT NULL, ts INTEGER NOT NULL,
  received_at INTEGER NOT NULL, id TEXT, reason TEXT NOT NULL, at INTEGER NOT NULL) STRICT;
CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL) STRICT;
CREATE TABLE lease (name TEXT PRIMARY KEY, holder TEXT NOT NULL, expires_at INTEGER NOT NULL,
  host TEXT) STRICT;
CREATE TABLE gaps (seq INTEGER PRIMARY KEY AUTOINCREMENT, market TEXT NOT NULL,
  detected_at INTEGER NOT NULL, reason TEXT NOT NULL, after_trade_id TEXT NOT NULL,
  before_trade_id TEXT NOT NULL, from_ts INTEGER NOT NULL, to_ts INTEGER NOT NULL,
  recovered INTEGER NOT NULL, missing INTEGER) STRICT;
`;

/** Writes an outbox as the previous version left it: 40 rows drained, 30 pending, 1 dead letter. */
function writeV1Outbox(dir: string): void {
  const db = new DatabaseSync(join(dir, "outbox.sqlite"));
  db.exec("PRAGMA journal_mode = WAL");
  db.exec(V1_SCHEMA);
  db.exec("INSERT INTO markets (id, name) VALUES (1, 'binance:BTC-USDT'), (2, 'kraken:BTC-USD')");
  const insert = db.prepare(
    "INSERT INTO outbox (market_id, trade_id, price, size, side, ts, received_at, id) " +
      "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
  );
  for (let i = 0; i < 70; i++) {
    const t = testTrade(i, i % 3 ? "binance:BTC-USDT" : "kraken:BTC-USD");
    const id = t.id === entryIdFor(t.ts, t.tradeId) ? null : t.id;
    insert.run(
      i % 3 ? 1 : 2,
      t.tradeId,
      t.price,
      t.size,
      t.side === "buy" ? 1 : 0,
      t.ts,
      t.receivedAt,
      id,
    );
  }
  db.exec("DELETE FROM outbox WHERE seq <= 40"); // replayed by the old version
  db.exec(
    "INSERT INTO dead_letter VALUES (7, 'binance:BTC-USDT', '1', '1.0', '1', 1, 1, 1, NULL, 'x', 5)",
  );
  db.exec("INSERT INTO meta (key, value) VALUES ('depth', 30)");
  const last = testTrade(68);
  db.prepare("UPDATE markets SET last_trade_id = ?, last_ts = ?, last_id = ? WHERE id = 1")
    .run(last.tradeId, last.ts, last.id);
  db.exec(
    "INSERT INTO gaps (market, detected_at, reason, after_trade_id, before_trade_id, from_ts, " +
      "to_ts, recovered, missing) VALUES ('kraken:BTC-USD', 1, 'id_gap', '1', '5', 1, 2, 0, 3)",
  );
  db.exec("PRAGMA user_version = 1");
  db.close();
}

Deno.test("an outbox.sqlite written by the previous version becomes pending journal rows: none lost, seqs kept", async () => {
  await withTempDir((dir) => {
    writeV1Outbox(dir);
    const j = Journal.open(dir);
    const rows = j.peek(100);
    assert.deepEqual(rows.map((r) => r.seq), Array.from({ length: 30 }, (_, i) => 41 + i));
    assert.deepEqual(
      rows.map((r) => r.trade),
      Array.from(
        { length: 30 },
        (_, i) => testTrade(40 + i, (40 + i) % 3 ? "binance:BTC-USDT" : "kraken:BTC-USD"),
      ),
    );
    assert.equal(j.depth(), 30);
    assert.equal(j.deadLetterCount(), 1);
    assert.equal(j.lastTrade("binance:BTC-USDT")?.id, testTrade(68).id);
    j.append(trades(70, 1));
    assert.equal(j.peek(100).at(-1)!.seq, 71, "the AUTOINCREMENT counter carried over");
    j.close();
    const db = new DatabaseSync(join(dir, "outbox.sqlite"));
    const version = db.prepare("PRAGMA user_version").get() as { user_version: number };
    const gaps = db.prepare("SELECT count(*) AS n FROM gaps").get() as { n: number };
    const old = db.prepare("SELECT count(*) AS n FROM sqlite_master WHERE name = 'outbox'")
      .get() as { n: number };
    db.close();
    assert.deepEqual([version.user_version, gaps.n, old.n], [3, 1, 0]);
    const again = Journal.open(dir);
    assert.equal(again.depth(), 31, "reopening does not migrate twice");
    again.close();
  });
});
