/** The values the journal (journal.ts) takes and returns: its rows and its append outcome. */

import type { Trade } from "../trade.ts";

/** Why trades were not stored. */
export type AppendFailure = "full" | "disk_full" | "io_error" | "busy" | "invalid";

/**
 * The result of {@link Journal.append}. On failure, `appended` trades are durable and `dropped`
 * were not stored: for `full`, the batch's newest (its tail); for `invalid`, the malformed
 * trades; for `disk_full`, `io_error` and `busy`, the whole batch.
 */
export type AppendOutcome =
  | { ok: true; appended: number }
  | { ok: false; reason: AppendFailure; appended: number; dropped: number; message: string };

/** One stored trade and its position (`seq`, global append order). */
export interface JournalRow {
  seq: number;
  trade: Trade;
}

/** A row moved aside because the primary rejected it. */
export interface DeadLetterRow extends JournalRow {
  reason: string;
  /** ms since the epoch. */
  at: number;
}

/** What one market has pending in the journal (for `sync --dry-run`). */
export interface MarketSummary {
  market: string;
  count: number;
  firstSeq: number;
  lastSeq: number;
  /** Entry IDs of the oldest and newest stored trade. */
  firstId: string;
  lastId: string;
}

/** The newest trade ever appended for a market, as far as the feed needs it. */
export type LastAppended = Pick<Trade, "market" | "tradeId" | "ts" | "id">;

/** The outcome of appending `appended` trades, with `invalid` malformed and `full` refused. */
export function appendOutcome(appended: number, invalid: number, full: number): AppendOutcome {
  if (invalid === 0 && full === 0) return { ok: true, appended };
  const dropped = invalid + full;
  const parts = [
    full ? `${full} refused because the outbox is full` : "",
    invalid ? `${invalid} malformed` : "",
  ].filter(Boolean).join(", ");
  const reason = full ? "full" : "invalid";
  return { ok: false, reason, appended, dropped, message: `outbox dropped ${dropped}: ${parts}` };
}

/** What {@link Journal.commit} stored: the outcome, the trades kept and their seqs. */
export interface CommitResult {
  outcome: AppendOutcome;
  /** The trades stored, in order (the storable prefix that fit). */
  stored: Trade[];
  /** `seqs[i]` is the seq of `stored[i]`. */
  seqs: number[];
}

/** One journal row of a market, as reconciliation needs it. */
export interface JournalPoint {
  seq: number;
  /** The stream entry ID. */
  id: string;
  tradeId: string;
  ts: number;
}
