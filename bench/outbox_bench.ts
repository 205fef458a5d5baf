/**
 * Outbox benchmark: how fast trades go into and out of the durable outbox.
 *
 * Measures, in one run, on the same disk, each in a fresh temporary directory:
 * - baseline: a plain `INSERT` of one row per transaction (autocommit), WAL, synchronous=FULL;
 * - `Outbox.append` in batches of 100 and 1000 (synchronous=FULL, the default);
 * - `Outbox.append` in batches of 1000 with synchronous=NORMAL (what FULL costs);
 * - a JSON-payload table, 1000 rows a transaction (why the outbox stores typed columns);
 * - replay read: `peek(1000)` + `remove(lastSeq)` until the outbox is empty.
 * Figures are rows per second, bytes per row on disk and the ratio to the baseline.
 *
 * Run: `deno run -A bench/outbox_bench.ts` (or `run()` from bench/main.ts).
 */

import { DatabaseSync } from "node:sqlite";
import { join } from "node:path";
import { Journal } from "../lib/store/journal.ts";
import { entryIdFor, type Trade } from "../lib/trade.ts";

const MARKETS = ["binance:BTC-USDT", "coinbase:BTC-USD", "kraken:BTC-USD", "bitstamp:BTC-USD"];
const BASELINE_ROWS = 2_000;
const ROWS = 300_000;

interface Result {
  name: string;
  rows: number;
  seconds: number;
  bytesPerRow: number | null;
}

function makeTrades(count: number): Trade[] {
  const start = Date.UTC(2025, 0, 1);
  return Array.from({ length: count }, (_, i): Trade => {
    const ts = start + i * 3;
    const tradeId = String(4_000_000_000 + i);
    return {
      market: MARKETS[i % MARKETS.length],
      tradeId,
      price: `${100000 + (i % 5000)}.${String(i % 100).padStart(2, "0")}`,
      size: `0.${String((i % 99999) + 1).padStart(8, "0")}`,
      side: i % 2 ? "buy" : "sell",
      ts,
      receivedAt: ts + 20,
      id: entryIdFor(ts, tradeId),
    };
  });
}

function fileBytes(path: string): number {
  let total = 0;
  for (const suffix of ["", "-wal"]) {
    try {
      total += Deno.statSync(path + suffix).size;
    } catch { /* absent */ }
  }
  return total;
}

function timed(name: string, rows: number, fn: () => number | null): Result {
  const start = performance.now();
  const bytes = fn();
  const seconds = (performance.now() - start) / 1000;
  return { name, rows, seconds, bytesPerRow: bytes === null ? null : bytes / rows };
}

function rawTable(dir: string, schema: string): { db: DatabaseSync; path: string } {
  const path = join(dir, "raw.sqlite");
  const db = new DatabaseSync(path);
  db.exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;");
  db.exec(schema);
  return { db, path };
}

function baseline(dir: string, trades: Trade[]): number {
  const { db, path } = rawTable(
    dir,
    "CREATE TABLE t (seq INTEGER PRIMARY KEY AUTOINCREMENT, market TEXT, trade_id TEXT, " +
      "price TEXT, size TEXT, side TEXT, ts INTEGER, received_at INTEGER, id TEXT)",
  );
  const insert = db.prepare("INSERT INTO t VALUES (NULL, ?, ?, ?, ?, ?, ?, ?, ?)");
  for (const t of trades) {
    insert.run(t.market, t.tradeId, t.price, t.size, t.side, t.ts, t.receivedAt, t.id);
  }
  const bytes = fileBytes(path);
  db.close();
  return bytes;
}

function jsonPayload(dir: string, trades: Trade[], batch: number): number {
  const { db, path } = rawTable(
    dir,
    "CREATE TABLE t (seq INTEGER PRIMARY KEY AUTOINCREMENT, payload TEXT NOT NULL)",
  );
  const insert = db.prepare("INSERT INTO t (payload) VALUES (?)");
  for (let i = 0; i < trades.length; i += batch) {
    db.exec("BEGIN IMMEDIATE");
    for (const t of trades.slice(i, i + batch)) insert.run(JSON.stringify(t));
    db.exec("COMMIT");
  }
  const bytes = fileBytes(path);
  db.close();
  return bytes;
}

function appendAll(box: Journal, trades: Trade[], batch: number): number {
  for (let i = 0; i < trades.length; i += batch) {
    const outcome = box.append(trades.slice(i, i + batch));
    if (!outcome.ok) throw new Error(`bench: ${outcome.message}`);
  }
  return box.bytes();
}

function drain(box: Journal): number {
  let n = 0;
  for (let rows = box.peek(1000); rows.length; rows = box.peek(1000)) {
    n += rows.length;
    box.ack(rows[rows.length - 1].seq);
  }
  return n;
}

async function inTempDir<T>(fn: (dir: string) => T): Promise<T> {
  const dir = await Deno.makeTempDir({ prefix: "btcfeed-outbox-bench-" });
  try {
    return fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function format(results: Result[]): string {
  const base = results[0].rows / results[0].seconds;
  const head =
    "method                                     rows   seconds       rows/s  B/row  vs baseline";
  return [
    head,
    ...results.map((r) => {
      const rate = r.rows / r.seconds;
      return [
        r.name.padEnd(38),
        String(r.rows).padStart(8),
        r.seconds.toFixed(2).padStart(9),
        Math.round(rate).toLocaleString("en-US").padStart(12),
        (r.bytesPerRow === null ? "-" : Math.round(r.bytesPerRow).toString()).padStart(6),
        `${(rate / base).toFixed(1).padStart(11)}x`,
      ].join(" ");
    }),
  ].join("\n");
}

/** Runs every measurement in fresh temporary directories and prints the table. */
export async function run(): Promise<void> {
  const trades = makeTrades(ROWS);
  const results: Result[] = [];
  results.push(
    await inTempDir((dir) =>
      timed(
        "baseline: INSERT, 1 row/tx, FULL",
        BASELINE_ROWS,
        () => baseline(dir, trades.slice(0, BASELINE_ROWS)),
      )
    ),
  );
  for (const [batch, rows] of [[100, 100_000], [1000, ROWS]]) {
    results.push(
      await inTempDir((dir) => {
        const box = Journal.open(dir);
        try {
          return timed(
            `Outbox.append x${batch}, FULL`,
            rows,
            () => appendAll(box, trades.slice(0, rows), batch),
          );
        } finally {
          box.close();
        }
      }),
    );
  }
  await inTempDir((dir) => {
    const box = Journal.open(dir, { synchronous: "NORMAL" });
    try {
      results.push(timed("Outbox.append x1000, NORMAL", ROWS, () => appendAll(box, trades, 1000)));
    } finally {
      box.close();
    }
  });
  results.push(
    await inTempDir((dir) =>
      timed("JSON payload table x1000, FULL", ROWS, () => jsonPayload(dir, trades, 1000))
    ),
  );
  await inTempDir((dir) => {
    const box = Journal.open(dir);
    try {
      appendAll(box, trades, 1000);
      results.push(timed("replay: peek(1000) + remove, FULL", ROWS, () => {
        if (drain(box) !== ROWS) throw new Error("bench: drain lost rows");
        return null;
      }));
    } finally {
      box.close();
    }
  });
  console.log(
    `outbox (node:sqlite, WAL) in ${Deno.env.get("TMPDIR") ?? "/tmp"}, ` +
      `${navigator.hardwareConcurrency} cores, ${MARKETS.length} markets`,
  );
  console.log(format(results));
}

if (import.meta.main) await run();
