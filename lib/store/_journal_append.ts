/**
 * The journal's append (private to lib/store; see journal.ts): one batch stored in order in one
 * transaction, as much of it as fits under `maxTrades` pending. A full disk evicts up to a
 * batch's worth of the oldest acknowledged rows and tries once more; any other failure is an
 * outcome, never a throw.
 */

import type { Trade } from "../trade.ts";
import { errorText } from "../redact.ts";
import { appendOutcome, type CommitResult } from "./journal_types.ts";
import { classifySqliteError, isStorable, JournalError } from "./_journal_sql.ts";
import { evictTail, insertRows } from "./_journal_tail.ts";
import type { JournalConn } from "./_journal_conn.ts";

/**
 * Stores the storable `trades` in order; `marketIds` (the connection's cache of market ids)
 * learns the markets created, once their transaction committed.
 */
export function commitTrades(
  c: JournalConn,
  marketIds: Map<string, number>,
  maxTrades: number,
  trades: readonly Trade[],
): CommitResult {
  const valid = trades.filter(isStorable);
  const invalid = trades.length - valid.length;
  if (valid.length === 0) return { outcome: appendOutcome(0, invalid, 0), stored: [], seqs: [] };
  let seqs: number[];
  try {
    seqs = insertOrEvict(c, marketIds, maxTrades, valid);
  } catch (e) {
    const reason = classifySqliteError(e);
    const cause = e instanceof JournalError ? e.cause : e;
    const message = `outbox append of ${valid.length} trades failed (${reason}): ${
      errorText(cause)
    }`;
    return {
      outcome: { ok: false, reason, appended: 0, dropped: trades.length, message },
      stored: [],
      seqs: [],
    };
  }
  const fit = seqs.length;
  return {
    outcome: appendOutcome(fit, invalid, valid.length - fit),
    stored: fit === valid.length ? valid : valid.slice(0, fit),
    seqs,
  };
}

function insertOrEvict(
  c: JournalConn,
  marketIds: Map<string, number>,
  maxTrades: number,
  valid: Trade[],
): number[] {
  try {
    return insert(c, marketIds, maxTrades, valid);
  } catch (e) {
    if (classifySqliteError(e) !== "disk_full") throw e;
    if (c.write(() => evictTail(c.s, Math.max(valid.length, 1_000))) === 0) throw e;
    return insert(c, marketIds, maxTrades, valid);
  }
}

function insert(
  c: JournalConn,
  marketIds: Map<string, number>,
  maxTrades: number,
  valid: Trade[],
): number[] {
  const { seqs, added } = c.write(() => {
    const fit = Math.max(0, Math.min(valid.length, maxTrades - c.number("depth", "value")));
    return insertRows(c.s, marketIds, valid.slice(0, fit));
  });
  // Market ids learnt in a transaction are cached only once it committed.
  for (const [name, id] of added) marketIds.set(name, id);
  return seqs;
}
