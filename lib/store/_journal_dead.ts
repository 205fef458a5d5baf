/**
 * The journal's dead-letter retry (private to lib/store; see journal.ts): every dead letter put
 * back into the pending set. Runs inside the caller's `BEGIN IMMEDIATE` transaction.
 *
 * Invariant: a retried letter is pending exactly once, in its own place.
 */

import type { Row } from "./_journal_sql.ts";
import type { Statements } from "./_journal_conn.ts";

/** A `deadRows` row: the dead letter, its market's id and watermark, whether its row exists. */
type DeadRow = Row & { market_id: number; acked_seq: number; present: number };

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
      const seq = s.insert.run(
        d.market_id,
        d.trade_id,
        d.price,
        d.size,
        d.side,
        d.ts,
        d.received_at,
        d.id,
        d.flags ?? null,
      ).lastInsertRowid;
      seqs.push(Number(seq));
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
