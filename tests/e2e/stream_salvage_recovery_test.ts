/**
 * A store that turns corrupt during a long gap: `sync --recover` salvages the held live trades
 * and the pending gap from the file moved aside, and the next `stream` resumes the gap and then
 * releases the held trades behind it: the full tape once and in order, nothing held applied
 * before the gap's backfill.
 */

import { deepStrictEqual as assertEquals, ok } from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { join } from "node:path";
import { runCli, waitFor } from "../support/cli.ts";
import { assertPendingGapResumed, slowGapTape, withEnv } from "./_harness.ts";

const START_ID = 5_000_000;
const GAP = 30_000;

/** Pages of the b-tree `name` (dbstat), leaf pages only with `leaves`. */
function pagesOf(db: DatabaseSync, name: string, leaves = false): number[] {
  const rows = db.prepare(
    "SELECT pageno FROM dbstat WHERE name = ?" + (leaves ? " AND pagetype = 'leaf'" : "") +
      " ORDER BY pageno",
  ).all(name);
  return rows.map((r) => Number(r.pageno));
}

/** Overwrites `pages` of the file at `path` with a byte pattern that is no b-tree page. */
function damage(path: string, pages: number[], pageSize: number): void {
  const f = Deno.openSync(path, { write: true });
  try {
    for (const p of pages) {
      f.seekSync((p - 1) * pageSize, Deno.SeekMode.Start);
      f.writeSync(new Uint8Array(pageSize).fill(0x5a));
    }
  } finally {
    f.close();
  }
}

/** The model of "readable": each held seq looked up on its own in a copy; trade ids in order. */
function readableHeld(path: string): string[] {
  const copy = `${path}.model`;
  Deno.copyFileSync(path, copy);
  const db = new DatabaseSync(copy, { readOnly: true });
  const ids: string[] = [];
  try {
    const upper = Number(
      (db.prepare("SELECT seq FROM sqlite_sequence WHERE name = 'held_trades'").get()!).seq,
    );
    for (let seq = 1; seq <= upper; seq++) {
      try {
        const row = db.prepare("SELECT trade FROM held_trades WHERE seq = ?").get(seq);
        if (row) ids.push(JSON.parse(String(row.trade)).tradeId);
      } catch { /* on a lost page */ }
    }
  } finally {
    db.close();
    Deno.removeSync(copy);
  }
  return ids;
}

Deno.test("binance: the store turns corrupt mid-gap (journal pages and a held-trades page lost); sync --recover restores the held trades and the pending gap, the next stream ends with the full tape once and in order", async () => {
  await withEnv([slowGapTape(START_ID, GAP)], async (env) => {
    const fake = env.fakes[0];
    const market = fake.tape[0].market;
    const dir = ["--primary", env.redis.url, "--data-dir", env.dataDir];
    env.startStream();
    await waitFor(
      () => {
        const s = env.status();
        const r = s?.markets[market]?.recovering;
        return r && r.recovered >= 5_000 && r.held >= 3_000 && s.outbox.depth === 0;
      },
      30_000,
      "a gap half recovered, live trades held, nothing waiting for the primary",
    );
    const path = join(env.dataDir, "outbox.sqlite");
    // The backfill goes on between status snapshots: kill it at a moment (frozen first) when
    // the journal really has nothing pending.
    for (let tries = 0;; tries++) {
      env.stream!.kill("SIGSTOP");
      if (pendingRows(path) === 0 || tries === 200) break;
      env.stream!.kill("SIGCONT");
      await new Promise((r) => setTimeout(r, 20));
    }
    env.stream!.kill("SIGKILL");
    await env.stream!.status;

    const db = new DatabaseSync(path);
    db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
    const pageSize = Number(db.prepare("PRAGMA page_size").get()!.page_size);
    const pendingInJournal = pendingRows(path);
    const held = Number(db.prepare("SELECT count(*) AS n FROM held_trades").get()!.n);
    const journalPages = pagesOf(db, "journal");
    const heldLeaves = pagesOf(db, "held_trades", true);
    db.close();
    assertEquals(pendingInJournal, 0, "every journaled trade was on the primary at the kill");
    ok(heldLeaves.length >= 3, `held trades span ${heldLeaves.length} leaf pages`);
    // The whole journal table, and one held-trades leaf in the middle (a hole among them).
    damage(path, [...journalPages, heldLeaves[Math.floor(heldLeaves.length / 2)]], pageSize);
    const readable = readableHeld(path);
    ok(readable.length > 0 && readable.length < held, `readable held ${readable.length}/${held}`);

    const r = await runCli(["sync", "--recover", "--json", ...dir]);
    assertEquals(r.code, 0, r.stdout + r.stderr);
    const [salvaged] = JSON.parse(r.stdout).recovered;
    assertEquals(
      [
        salvaged.heldTrades,
        salvaged.heldUnreadable,
        salvaged.pendingGaps,
        salvaged.heldSuperseded,
        salvaged.pendingGapsSuperseded,
      ],
      [readable.length, held - readable.length, 1, 0, 0],
    );
    const live = new DatabaseSync(path, { readOnly: true });
    const back = live.prepare("SELECT trade FROM held_trades ORDER BY seq").all()
      .map((row) => JSON.parse(String(row.trade)).tradeId);
    const gapRow = live.prepare("SELECT * FROM pending_gaps").all();
    live.close();
    assertEquals(back, readable, "the readable held trades, back in their order");
    assertEquals(gapRow.map((g) => [g.market, g.after_trade_id]), [[
      market,
      fake.tape[999].tradeId,
    ]]);

    await assertPendingGapResumed(env, { afterIndex: 999, size: GAP });
  });
});

/** Rows of the journal at `path` that no acknowledgement covers. */
function pendingRows(path: string): number {
  const db = new DatabaseSync(path, { readOnly: true });
  try {
    return Number(
      db.prepare(
        "SELECT count(*) AS n FROM journal j JOIN markets m ON m.id = j.market_id " +
          "WHERE j.seq > m.acked_seq",
      ).get()!.n,
    );
  } finally {
    db.close();
  }
}
