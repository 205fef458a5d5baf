/**
 * Trade flags (Bybit block / RPI trades) in the journal, on real SQLite files: kept through
 * append, reopen, dead letters and their retry, salvage and the recovery store's held trades; a
 * file of schema 2 (before flags) opened by this version keeps every row; and a row pending
 * while the primary was down is replayed with its flags onto a real redis-server.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { Redis } from "ioredis";
import { Journal } from "../../lib/store/journal.ts";
import { GapStore } from "../../lib/store/gap_store.ts";
import { RecoveryStore } from "../../lib/store/recovery_store.ts";
import { salvageAll, setAsideCorruptStore } from "../../lib/store/salvage.ts";
import { entryIdFor, type Trade, type TradeFlag } from "../../lib/trade.ts";
import { marketKeys } from "../../lib/redis/keys.ts";
import { startRedis } from "../support/redis_server.ts";
import { waitFor } from "../support/cli.ts";
import { testTrade, withTempDir } from "./_outbox_support.ts";
import { withCore } from "./_journal_core.ts";

const M = "bybit:BTC-USDT";
const FLAG_CYCLE: (TradeFlag[] | undefined)[] = [undefined, ["block"], ["rpi"], ["block", "rpi"]];

/** Trade `i` of Bybit: none, block, rpi, block and rpi, in turn. */
function flagged(i: number): Trade {
  const t = testTrade(i, M);
  const flags = FLAG_CYCLE[i % 4];
  return flags ? { ...t, flags } : t;
}
const flaggedRange = (from: number, n: number) =>
  Array.from({ length: n }, (_, i) => flagged(from + i));

Deno.test("flags survive the journal: append, reopen, dead letters and their retry; unflagged rows stay unflagged", async () => {
  await withTempDir((dir) => {
    const trades = flaggedRange(0, 8);
    let j = Journal.open(dir);
    j.append(trades);
    assert.deepEqual(j.peek(10).map((r) => r.trade), trades);
    j.close();
    j = Journal.open(dir);
    const rows = j.peek(10);
    assert.deepEqual(rows.map((r) => r.trade), trades, "after a reopen");
    assert.equal("flags" in rows[0].trade, false, "no empty flags on an unflagged trade");
    assert.equal(j.deadLetter(rows.slice(1, 4), "test"), 3);
    assert.deepEqual(j.deadLetters(10).map((d) => d.trade), trades.slice(1, 4));
    assert.deepEqual(j.peek(10).map((r) => r.trade), [trades[0], ...trades.slice(4)]);
    assert.ok(j.acquireLease("test", 60_000));
    assert.deepEqual(j.retryDeadLetters("test"), rows.slice(1, 4).map((r) => r.seq));
    assert.deepEqual(j.peek(10).map((r) => r.trade), trades, "retried letters keep their flags");
    j.close();
  });
});

Deno.test("the journal file refuses a flags text that is not a valid flags list", async () => {
  await withTempDir((dir) => {
    Journal.open(dir).close();
    const db = new DatabaseSync(join(dir, "outbox.sqlite"));
    try {
      db.exec("INSERT INTO markets (id, name) VALUES (1, 'bybit:BTC-USDT')");
      const insert = db.prepare(
        "INSERT INTO journal (market_id, trade_id, price, size, side, ts, received_at, flags) " +
          "VALUES (1, '1', '1', '1', 1, 1, 1, ?)",
      );
      for (const ok of ["block", "rpi", "block,rpi", null]) insert.run(ok);
      for (const bad of ["rpi,block", "", "block,block", "BT"]) {
        assert.throws(() => insert.run(bad), /CHECK constraint/, bad);
      }
    } finally {
      db.close();
    }
  });
});

/** The journal schema of the previous version (user_version 2), as it wrote it. */
const V2_SCHEMA = `
CREATE TABLE markets (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, last_trade_id TEXT,
  last_ts INTEGER, last_id TEXT, acked_seq INTEGER NOT NULL DEFAULT 0,
  rows INTEGER NOT NULL DEFAULT 0) STRICT;
CREATE TABLE journal (seq INTEGER PRIMARY KEY AUTOINCREMENT, market_id INTEGER NOT NULL,
  trade_id TEXT NOT NULL, price TEXT NOT NULL, size TEXT NOT NULL,
  side INTEGER NOT NULL CHECK (side IN (0, 1)), ts INTEGER NOT NULL, received_at INTEGER NOT NULL,
  id TEXT) STRICT;
CREATE INDEX journal_market_seq ON journal (market_id, seq);
CREATE TABLE dead_letter (seq INTEGER PRIMARY KEY, market TEXT NOT NULL, trade_id TEXT NOT NULL,
  price TEXT NOT NULL, size TEXT NOT NULL, side INTEGER NOT NULL, ts INTEGER NOT NULL,
  received_at INTEGER NOT NULL, id TEXT, reason TEXT NOT NULL, at INTEGER NOT NULL) STRICT;
CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL) STRICT;
INSERT INTO meta (key, value) VALUES ('depth', 0);
CREATE TABLE lease (name TEXT PRIMARY KEY, holder TEXT NOT NULL, expires_at INTEGER NOT NULL,
  host TEXT) STRICT;
`;

/** A schema 2 file: trades 0..19 of M (unflagged), 0..9 acknowledged, 10..19 pending, 1 dead. */
function writeV2Journal(dir: string): Trade[] {
  const db = new DatabaseSync(join(dir, "outbox.sqlite"));
  db.exec("PRAGMA journal_mode = WAL");
  db.exec(V2_SCHEMA);
  db.exec(`INSERT INTO markets (id, name, acked_seq, rows) VALUES (1, '${M}', 10, 20)`);
  const insert = db.prepare(
    "INSERT INTO journal (market_id, trade_id, price, size, side, ts, received_at, id) " +
      "VALUES (1, ?, ?, ?, ?, ?, ?, ?)",
  );
  const trades = Array.from({ length: 20 }, (_, i) => testTrade(i, M));
  for (const t of trades) {
    const id = t.id === entryIdFor(t.ts, t.tradeId) ? null : t.id;
    insert.run(t.tradeId, t.price, t.size, t.side === "buy" ? 1 : 0, t.ts, t.receivedAt, id);
  }
  const last = trades[19];
  db.prepare("UPDATE markets SET last_trade_id = ?, last_ts = ?, last_id = ? WHERE id = 1")
    .run(last.tradeId, last.ts, last.id);
  db.exec(
    `INSERT INTO dead_letter SELECT seq, '${M}', trade_id, price, size, side, ts, ` +
      "received_at, id, 'rejected', 5 FROM journal WHERE seq = 15",
  );
  db.exec("UPDATE meta SET value = 9 WHERE key = 'depth'");
  db.exec("PRAGMA user_version = 2");
  db.close();
  return trades;
}

Deno.test("a schema 2 journal opened by this version keeps every row, acknowledged, pending and dead, and then stores flags", async () => {
  await withTempDir((dir) => {
    const trades = writeV2Journal(dir);
    const j = Journal.open(dir);
    const pending = [...trades.slice(10, 14), ...trades.slice(15)];
    assert.deepEqual(j.peek(100).map((r) => r.trade), pending, "pending rows, none flagged");
    assert.equal(j.depth(), 9);
    assert.deepEqual(j.deadLetters(10).map((d) => d.trade), [trades[14]]);
    assert.equal(j.lastAcked(M)?.id, trades[9].id);
    assert.equal(j.oldestRetained(M)?.id, trades[0].id);
    assert.equal(j.lastTrade(M)?.id, trades[19].id);
    const next = flaggedRange(21, 3);
    assert.deepEqual(j.append(next), { ok: true, appended: 3 });
    const rows = j.peek(100);
    assert.deepEqual(rows.map((r) => r.seq).slice(-3), [21, 22, 23], "seqs carried on");
    assert.deepEqual(rows.slice(-3).map((r) => r.trade), next);
    assert.equal(j.deadLetter(rows.slice(-2, -1), "test"), 1, "an upgraded dead_letter");
    assert.deepEqual(j.deadLetters(10).map((d) => d.trade), [trades[14], next[1]]);
    j.close();
    const db = new DatabaseSync(join(dir, "outbox.sqlite"));
    const v = db.prepare("PRAGMA user_version").get() as { user_version: number };
    db.close();
    assert.equal(v.user_version, 3);
    const again = Journal.open(dir);
    assert.equal(again.depth(), 11, "reopening does not migrate twice");
    again.close();
  });
});

/** The live stores of `dir`, for salvage. */
function live(dir: string) {
  const journal = Journal.open(dir);
  const gaps = GapStore.open(dir);
  const recovery = RecoveryStore.open(dir);
  return {
    journal,
    gaps,
    recovery,
    close: () => [recovery, gaps, journal].forEach((s) => s.close()),
  };
}

Deno.test("salvage keeps the flags of pending rows and held trades, and still reads a schema 2 file", async () => {
  await withTempDir((dir) => {
    const old = Journal.open(dir);
    old.append(flaggedRange(0, 8));
    old.close();
    const held = RecoveryStore.open(dir);
    const heldTrades = [flagged(101), flagged(102), flagged(103)].map(({ id: _, ...t }) => t);
    held.hold("okx:BTC-USDT", heldTrades.map((t) => ({ trade: t, fresh: false })));
    held.close();
    setAsideCorruptStore(dir);
    const stores = live(dir);
    try {
      const [r] = salvageAll(dir, stores, true);
      assert.deepEqual([r.trades, r.heldTrades], [8, 3]);
      assert.deepEqual(stores.journal.peek(100).map((x) => x.trade), flaggedRange(0, 8));
      const back = stores.recovery.held("okx:BTC-USDT", 10).map((h) => h.trade);
      assert.deepEqual(back, heldTrades, "held trades keep their flags");
    } finally {
      stores.close();
    }
  });
  await withTempDir((dir) => {
    const trades = writeV2Journal(dir);
    setAsideCorruptStore(dir);
    const stores = live(dir);
    try {
      const [r] = salvageAll(dir, stores, true);
      assert.equal(r.trades, 10, "the pending rows of a file without a flags column");
      assert.deepEqual(stores.journal.peek(100).map((x) => x.trade), trades.slice(10));
    } finally {
      stores.close();
    }
  });
});

Deno.test("a flagged row pending while the primary is down is replayed with its flags", async () => {
  const primary = await startRedis();
  const reader = new Redis(primary.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  reader.on("error", () => {});
  const key = marketKeys("btcfeed", M).trades;
  try {
    await withTempDir((dir) =>
      withCore(primary.url, dir, 0, async (core, journal) => {
        primary.kill("SIGKILL");
        await primary.exited;
        const trades = flaggedRange(0, 12);
        core.submit(trades);
        await waitFor(
          () => journal.depth() === 12 && core.mode !== "primary",
          5_000,
          "pending in the journal, primary down",
        );
        assert.deepEqual(journal.peek(100).map((r) => r.trade), trades, "pending with flags");
        await primary.restart();
        await waitFor(() => journal.depth() === 0, 15_000, "replayed");
        const entries = await reader.xrange(key, "-", "+");
        assert.deepEqual(entries.map(([id]) => id), trades.map((t) => t.id));
        const flagsOf = (flat: string[]) => flat[flat.indexOf("flags") + 1] ?? null;
        assert.deepEqual(
          entries.map(([, flat]) => (flat.includes("flags") ? flagsOf(flat) : null)),
          trades.map((t) => t.flags?.join(",") ?? null),
        );
      })
    );
  } finally {
    reader.disconnect();
    await primary.stop();
  }
});
