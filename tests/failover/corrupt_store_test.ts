/**
 * Storage faults through the real CLI: a corrupt store file never stops `stream`; it is moved
 * aside, health fails naming it, and `sync --recover` salvages exactly the readable rows onto
 * the primary, once.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { Rig } from "../support/rig.ts";
import { waitFor } from "../support/cli.ts";
import { Journal as Outbox } from "../../lib/store/journal.ts";
import { marketKeys } from "../../lib/redis/keys.ts";
import type { Trade } from "../../lib/trade.ts";

/** Pending trades of a market the stream itself does not write, so replay order is its own. */
const OLD_MARKET = "kraken:BTC-USD";
const PENDING = 6_000;

function pendingTrades(n: number): Trade[] {
  const t0 = Date.UTC(2025, 0, 1);
  return Array.from({ length: n }, (_, i) => ({
    market: OLD_MARKET,
    tradeId: String(i + 1),
    price: `${90_000 + (i % 100)}.5`,
    size: "0.01",
    side: i % 2 ? "buy" : "sell",
    ts: t0 + i,
    receivedAt: t0 + i + 5,
    id: `${t0 + i}-${i + 1}`,
  }));
}

/** A store with `n` pending trades, checkpointed so they all live in the main file. */
function makeStore(dataDir: string, n: number): string {
  const outbox = Outbox.open(dataDir);
  const trades = pendingTrades(n);
  for (let i = 0; i < n; i += 500) outbox.append(trades.slice(i, i + 500));
  outbox.close();
  const path = join(dataDir, "outbox.sqlite");
  const db = new DatabaseSync(path);
  db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
  db.close();
  return path;
}

/**
 * The model of "readable": each seq looked up on its own in a copy of the damaged file (the
 * simplest reader there is), trade ids of the rows that came back.
 */
function readableIds(path: string, n: number): string[] {
  const copy = `${path}.model`;
  Deno.copyFileSync(path, copy);
  const db = new DatabaseSync(copy, { readOnly: true, defensive: false } as { readOnly: boolean });
  db.exec("PRAGMA writable_schema = ON");
  const ids: string[] = [];
  for (let seq = 1; seq <= n; seq++) {
    try {
      const row = db.prepare("SELECT trade_id FROM journal WHERE seq = ?").get(seq);
      if (row) ids.push(String(row.trade_id));
    } catch { /* on a lost page */ }
  }
  db.close();
  Deno.removeSync(copy);
  return ids;
}

async function health(rig: Rig) {
  const r = await rig.cli(["health", "--json"]);
  return JSON.parse(r.stdout) as {
    status: string;
    output?: string;
    checks: Record<string, { status: string; output: string }[]>;
  };
}

async function primaryIds(rig: Rig, market: string): Promise<string[]> {
  const entries = await rig.reader.xrange(marketKeys("btcfeed", market).trades, "-", "+");
  return entries.map(([, fields]) => fields[fields.indexOf("trade_id") + 1]);
}

Deno.test("a truncated store: stream keeps streaming, health fails naming the moved-aside file, sync --recover lands exactly the readable rows on the primary once", async () => {
  const rig = await Rig.start({ trades: 1_500, ratePerSec: 500 });
  try {
    const path = makeStore(rig.dataDir, PENDING);
    const size = Deno.statSync(path).size;
    Deno.truncateSync(path, Math.floor(size / 2 / 4096) * 4096);
    const expected = readableIds(path, PENDING);
    assert.ok(expected.length > 0 && expected.length < PENDING, `readable ${expected.length}`);

    const stream = rig.startStream();
    await stream.waitForLine(/store file corrupt: moved aside/);
    await stream.waitForLine(/stream started/);
    const aside = [...Deno.readDirSync(rig.dataDir)].map((e) => e.name)
      .filter((n) => /^outbox\.sqlite\.corrupt-\d{8}T\d{6}Z$/.test(n));
    assert.equal(aside.length, 1, "one file moved aside with a UTC timestamp");

    const failing = await health(rig);
    assert.equal(failing.status, "fail");
    assert.match(failing.checks["store:integrity"][0].output, new RegExp(aside[0]));
    assert.match(failing.checks["store:integrity"][0].output, /run btcfeed sync --recover/);

    const verdict = await rig.settle();
    assert.equal(verdict.lost + verdict.duplicated + verdict.reordered, 0, "live trades all there");

    const r = await rig.cli(["sync", "--recover", "--json"]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const summary = JSON.parse(r.stdout);
    assert.equal(summary.recovered.length, 1);
    assert.equal(summary.recovered[0].trades, expected.length);
    assert.equal(summary.recovered[0].unreadable, PENDING - expected.length);
    await waitFor(
      async () => (await primaryIds(rig, OLD_MARKET)).length >= expected.length,
      20_000,
      "salvaged rows on the primary",
    );
    assert.deepEqual(
      await primaryIds(rig, OLD_MARKET),
      expected,
      "exactly the readable rows, once, in order",
    );

    const again = JSON.parse((await rig.cli(["sync", "--recover", "--json"])).stdout);
    assert.deepEqual(again.recovered, [], "nothing left to recover");
    assert.deepEqual(await primaryIds(rig, OLD_MARKET), expected, "no re-send");
    await waitFor(async () => (await health(rig)).status === "pass", 5_000, "health back to pass");
  } finally {
    await rig.stop();
  }
});

Deno.test("a store with a garbage header: stream starts on a new store, health fails until sync --recover", async () => {
  const rig = await Rig.start({ trades: 500, ratePerSec: 500 });
  try {
    const path = makeStore(rig.dataDir, 1_000);
    const f = Deno.openSync(path, { write: true });
    f.writeSync(new TextEncoder().encode("this is not an sqlite header at all"));
    f.close();
    const stream = rig.startStream();
    await stream.waitForLine(/store file corrupt: moved aside/);
    await stream.waitForLine(/stream started/);
    const verdict = await rig.settle();
    assert.equal(verdict.lost + verdict.duplicated + verdict.reordered, 0);
    const failing = await health(rig);
    assert.equal(failing.status, "fail");
    assert.match(
      failing.output ?? "",
      /store was corrupt, moved aside to .*outbox\.sqlite\.corrupt-/,
    );

    const r = await rig.cli(["sync", "--recover"]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(
      r.stdout,
      /recovered 0 trades .* from outbox\.sqlite\.corrupt-.*; it is now outbox\.sqlite\.salvaged-/,
    );
    await waitFor(async () => (await health(rig)).status === "pass", 5_000, "health back to pass");
  } finally {
    await rig.stop();
  }
});
