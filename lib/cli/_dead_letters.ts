/**
 * `btcfeed sync --dead-letters [--retry]`: what the primary refused, shown and retried
 * (private to lib/cli; sync.ts wires it). Rendering is pure; the retry moves the dead letters
 * back into the outbox under the replay lease and lets sync's replay apply them.
 */

import type { DeadLetterRow, Journal } from "../store/journal.ts";
import { sleep } from "../time.ts";
import { DEFAULT_REPLAYER_OPTIONS } from "../defaults.ts";

/** One dead letter as listed (and as `--json` prints it). */
export interface DeadLetterView {
  market: string;
  entryId: string;
  tradeId: string;
  reason: string;
  /** When it was set aside, ISO 8601. */
  at: string;
  seq: number;
}

export function deadLetterViews(rows: readonly DeadLetterRow[]): DeadLetterView[] {
  return rows.map((r) => ({
    market: r.trade.market,
    entryId: r.trade.id,
    tradeId: r.trade.tradeId,
    reason: r.reason,
    at: new Date(r.at).toISOString(),
    seq: r.seq,
  }));
}

const COLUMNS = ["market", "entryId", "tradeId", "at", "reason"] as const;
const HEADERS = ["MARKET", "ENTRY ID", "TRADE ID", "WHEN", "REASON"];

/** An aligned table with a header (terminal), or tab-separated lines without one (pipes). */
export function renderDeadLetters(views: readonly DeadLetterView[], table: boolean): string {
  if (!views.length) return "no dead letters";
  const rows = views.map((v) => COLUMNS.map((c) => v[c]));
  if (!table) return rows.map((r) => r.join("\t")).join("\n");
  const all = [HEADERS, ...rows];
  const widths = HEADERS.map((_, i) => Math.max(...all.map((r) => r[i].length)));
  const line = (r: string[]) => r.map((c, i) => c.padEnd(widths[i])).join("  ").trimEnd();
  return [`${views.length} dead letters`, ...all.map(line)].join("\n");
}

/**
 * Takes the replay lease for `holder` (waiting while another replayer holds it) and moves every
 * dead letter back into the outbox; returns their seqs. The caller's replay, under the same
 * holder, then applies them.
 */
export async function moveBackForRetry(
  outbox: Journal,
  holder: string,
  onBusy: (holder: string | null) => void,
): Promise<number[]> {
  for (;;) {
    if (outbox.acquireLease(holder, DEFAULT_REPLAYER_OPTIONS.leaseTtlMs)) {
      const seqs = outbox.retryDeadLetters(holder);
      if (seqs) return seqs;
    }
    onBusy(outbox.leaseHolder());
    await sleep(200);
  }
}

/** Of the `retried` seqs, how many are dead letters again after the replay. */
export function rejectedAgain(outbox: Journal, retried: readonly number[]): number {
  const set = new Set(retried);
  return outbox.deadLetters(Number.MAX_SAFE_INTEGER).filter((d) => set.has(d.seq)).length;
}
