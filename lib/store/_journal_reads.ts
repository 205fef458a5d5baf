/**
 * The journal's multi-row reads (private to lib/store; see journal.ts): pending rows, dead
 * letters and the per-market pending summary, mapped from SQLite rows to the journal's types.
 * Each is one read outside a transaction (WAL: a consistent snapshot per statement).
 */

import type { DeadLetterRow, JournalRow, MarketSummary } from "./journal_types.ts";
import { type GroupRow, type Row, toTrade } from "./_journal_sql.ts";
import type { JournalConn } from "./_journal_conn.ts";

/** Up to `limit` pending rows with `seq > afterSeq`, oldest first. */
export function peekPending(c: JournalConn, limit: number, afterSeq: number): JournalRow[] {
  const rows = c.guard(() =>
    c.s.peek.all(Math.max(afterSeq, c.minAcked()), Math.max(0, limit))
  ) as Row[];
  return rows.map((r) => ({ seq: r.seq, trade: toTrade(r) }));
}

/** Up to `limit` dead-lettered rows, oldest first. */
export function listDeadLetters(c: JournalConn, limit: number): DeadLetterRow[] {
  const rows = c.guard(() => c.s.deadList.all(limit)) as (Row & { reason: string; at: number })[];
  return rows.map((r) => ({ seq: r.seq, trade: toTrade(r), reason: r.reason, at: r.at }));
}

/** Per market: pending count and the oldest/newest pending trade. O(depth). */
export function pendingSummary(c: JournalConn): MarketSummary[] {
  return c.guard(() => {
    const groups = c.s.groups.all(c.minAcked()) as unknown as GroupRow[];
    const idAt = (seq: number) => String((c.s.entryIdAt.get(seq) as { id: string }).id);
    return groups.map((g) => ({
      market: g.market,
      count: g.count,
      firstSeq: g.first_seq,
      lastSeq: g.last_seq,
      firstId: idAt(g.first_seq),
      lastId: idAt(g.last_seq),
    }));
  });
}
