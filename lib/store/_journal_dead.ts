/**
 * The journal's dead letters beyond the replay's own (private to lib/store; see journal.ts):
 * trades the primary refused on the live path stored as dead letters, and every dead letter
 * put back into the pending set for a retry. Each runs inside the caller's `BEGIN IMMEDIATE`
 * transaction.
 *
 * Invariants: a dead letter always owns a journal seq (so no later row can reuse it, and it is
 * never pending while its `dead_letter` row exists); a retried letter is pending exactly once.
 */

import type { StatementSync } from "node:sqlite";
import type { Trade } from "../trade.ts";
import { type SQL, tradeParams } from "./_journal_sql.ts";

type Statements = Record<keyof typeof SQL, StatementSync>;

/**
 * Stores `trades` (refused by the primary for `reason`) as dead letters: each takes a new seq
 * and a `dead_letter` row; neither the depth nor a market's newest-ever record changes. Returns
 * the markets it had to create (`known` is not changed).
 */
export function storeRefused(
  s: Statements,
  known: ReadonlyMap<string, number>,
  trades: readonly Trade[],
  reason: string,
  now: number,
): Map<string, number> {
  const added = new Map<string, number>();
  for (const t of trades) {
    let marketId = known.get(t.market) ?? added.get(t.market);
    if (marketId === undefined) {
      const row = s.market.get(t.market) as { id: number } | undefined;
      marketId = row?.id ?? (s.addMarket.get(t.market) as { id: number }).id;
      added.set(t.market, marketId);
    }
    const { seq } = s.insertOne.get(marketId, ...tradeParams(t)) as { seq: number };
    s.dead.run(reason, now, seq);
  }
  return added;
}

interface DeadRow {
  seq: number;
  market_id: number;
  acked_seq: number;
  present: number;
  trade_id: string;
  price: string;
  size: string;
  side: number;
  ts: number;
  received_at: number;
  id: string | null;
}

/**
 * Puts every dead letter back in the pending set, in its place: its journal row becomes pending
 * under its own seq, so letters replay in their old order, ahead of newer rows. Where a market's
 * watermark has passed a letter, the watermark moves back to just before it, so the rows after
 * it are re-sent too (the apply script makes those repeats no-ops). A letter whose row an earlier
 * version removed is journaled again as a new row. Returns the letters' seqs, now pending.
 */
export function reviveDead(s: Statements): number[] {
  const seqs: number[] = [];
  const lowest = new Map<number, { seq: number; acked: number }>();
  for (const d of s.deadRows.all() as unknown as DeadRow[]) {
    s.deadDelete.run(d.seq);
    if (!d.present) {
      const row = s.insertOne.get(
        d.market_id,
        d.trade_id,
        d.price,
        d.size,
        d.side,
        d.ts,
        d.received_at,
        d.id,
      ) as { seq: number };
      seqs.push(Number(row.seq));
      s.addDepth.run(1);
      continue;
    }
    seqs.push(Number(d.seq));
    if (d.seq > d.acked_seq) s.addDepth.run(1);
    else if (!lowest.has(d.market_id)) lowest.set(d.market_id, { seq: d.seq, acked: d.acked_seq });
  }
  for (const [marketId, { seq, acked }] of lowest) {
    // Live rows in (seq - 1, acked] become pending: the letters (no longer dead) and the rest.
    const n = Number((s.liveBetween.get(marketId, seq - 1, acked) as { n: number }).n);
    s.setAcked.run(seq - 1, marketId);
    if (n) s.addDepth.run(n);
  }
  return seqs.sort((a, b) => a - b);
}
