/**
 * The journal's row work (private to lib/store; see journal.ts): inserting a batch, and the
 * retained tail — rewinding a market's watermark, pruning by age and count, evicting on a full
 * disk. Each runs inside the caller's `BEGIN IMMEDIATE` transaction; the tail functions never
 * touch a pending row or a market's newest acknowledged row.
 */

import { compareEntryIds, type Trade } from "../trade.ts";
import type { JournalOptions } from "../defaults.ts";
import {
  INSERT_ROWS,
  type MarketRow,
  type PointRow,
  ROW_PARAMS,
  tradeParams,
} from "./_journal_sql.ts";
import type { Statements } from "./_journal_conn.ts";

/**
 * Inserts `trades` in order, keeps each market's newest-ever record and row count, adds them to
 * the depth. Returns their seqs and the markets it had to create (`known` is not changed).
 */
export function insertRows(
  s: Statements,
  known: ReadonlyMap<string, number>,
  trades: readonly Trade[],
): { seqs: number[]; added: Map<string, number> } {
  const added = new Map<string, number>();
  const seqs: number[] = [];
  const last = new Map<number, [Trade, number]>();
  const params: (string | number | null)[] = [];
  for (const t of trades) {
    let marketId = known.get(t.market) ?? added.get(t.market);
    if (marketId === undefined) {
      const row = s.market.get(t.market) as { id: number } | undefined;
      marketId = row?.id ?? (s.addMarket.get(t.market) as { id: number }).id;
      added.set(t.market, marketId);
    }
    params.push(marketId, ...tradeParams(t));
    last.set(marketId, [t, (last.get(marketId)?.[1] ?? 0) + 1]);
    if (params.length === INSERT_ROWS * ROW_PARAMS) flushRows(s, params, seqs);
  }
  flushRows(s, params, seqs);
  for (const [id, [t, n]] of last) s.setLast.run(t.tradeId, t.ts, t.id, n, id);
  if (trades.length > 0) s.addDepth.run(trades.length);
  return { seqs, added };
}

/**
 * Moves `m`'s watermark forward past its rows with an entry ID at or below `entryId` (the
 * primary already has them, written by another feeder); returns how many left the pending set.
 */
export function advanceMarket(s: Statements, m: MarketRow, entryId: string): number {
  let to = m.acked_seq;
  for (const r of s.ackedAsc.iterate(m.id, m.acked_seq) as Iterable<PointRow>) {
    if (compareEntryIds(r.id, entryId) > 0) break;
    to = Number(r.seq);
  }
  if (to === m.acked_seq) return 0;
  const n = Number((s.liveBetween.get(m.id, m.acked_seq, to) as { n: number }).n);
  s.setAcked.run(to, m.id);
  if (n) s.addDepth.run(-n);
  return n;
}

/** Moves `m`'s watermark below its retained rows with an entry ID above `entryId`; returns how many became pending. */
export function rewindMarket(s: Statements, m: MarketRow, entryId: string): number {
  let to = m.acked_seq;
  for (const r of s.ackedDesc.iterate(m.id, m.acked_seq) as Iterable<PointRow>) {
    if (compareEntryIds(r.id, entryId) <= 0) break;
    to = Number(r.seq) - 1;
  }
  if (to === m.acked_seq) return 0;
  const n = Number((s.liveBetween.get(m.id, to, m.acked_seq) as { n: number }).n);
  s.setAcked.run(to, m.id);
  if (n) s.addDepth.run(n);
  return n;
}

/**
 * Inserts the rows whose parameters `params` holds (`ROW_PARAMS` a row), `INSERT_ROWS` per statement when
 * full, and empties it. One statement's rows get consecutive seqs (AUTOINCREMENT under the
 * write lock), so the last rowid names them all.
 */
function flushRows(s: Statements, params: (string | number | null)[], seqs: number[]): void {
  const rows = params.length / ROW_PARAMS;
  if (rows === 0) return;
  if (rows === INSERT_ROWS) {
    const lastSeq = Number(s.insertMany.run(...params).lastInsertRowid);
    for (let i = rows - 1; i >= 0; i--) seqs.push(lastSeq - i);
  } else {
    for (let i = 0; i < params.length; i += ROW_PARAMS) {
      seqs.push(Number(s.insert.run(...params.slice(i, i + ROW_PARAMS)).lastInsertRowid));
    }
  }
  params.length = 0;
}

/** One prune round: per market, up to `pruneChunk` rows beyond the count and up to as many too old. */
export function pruneTail(
  s: Statements,
  options: Pick<JournalOptions, "retainMs" | "retainTrades" | "pruneChunk">,
  now: number,
): number {
  const { retainMs, retainTrades, pruneChunk } = options;
  let n = 0;
  for (const m of s.marketRows.all() as unknown as MarketRow[]) {
    const keep = keepFrom(s, m);
    if (keep === null) continue;
    const excess = Math.min(pruneChunk, m.rows - retainTrades);
    let gone = excess > 0 ? Number(s.pruneOldest.run(m.id, keep, excess).changes) : 0;
    gone += Number(s.pruneAged.run(m.id, keep, pruneChunk, now - retainMs).changes);
    if (gone) {
      s.addRows.run(-gone, m.id);
      s.markPruned.run(m.id);
    }
    n += gone;
  }
  return n;
}

/** Evicts up to `count` of the oldest retained rows, whatever the retention (disk full). */
export function evictTail(s: Statements, count: number): number {
  let n = 0;
  for (const m of s.marketRows.all() as unknown as MarketRow[]) {
    const keep = keepFrom(s, m);
    if (keep === null || n >= count) continue;
    const gone = Number(s.pruneOldest.run(m.id, keep, count - n).changes);
    if (gone) {
      s.addRows.run(-gone, m.id);
      s.markPruned.run(m.id);
    }
    n += gone;
  }
  return n;
}

/** The seq of a market's newest acknowledged row (kept: the restart seed); null: nothing to prune. */
function keepFrom(s: Statements, m: MarketRow): number | null {
  const last = s.lastAcked.get(m.id, m.acked_seq) as PointRow | undefined;
  return last ? Number(last.seq) : null;
}
