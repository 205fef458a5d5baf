/**
 * Replays the outbox into the primary, oldest first, under the outbox's replay lease.
 *
 * Invariants:
 * - Only the lease holder replays, so batches from two replayers never interleave.
 * - Rows leave the outbox only after the primary acknowledged them; a replay killed at any point
 *   re-sends from the oldest unacknowledged row, and the apply script makes the repeats no-ops.
 * - A row the primary rejects as out-of-order is moved to the dead-letter table (counted, kept),
 *   never dropped silently.
 * - A step that throws or loses the lease keeps no read-ahead: the next step reads afresh.
 * - Any stale copy still in flight from an earlier attempt holds only trades at or after the
 *   oldest unacknowledged row, so it can only duplicate, never reorder.
 */

import type { Outbox, OutboxRow } from "../store/outbox.ts";
import type { TradeWriter } from "../redis/writer.ts";
import { withDeadline } from "./deadline.ts";
import { DEFAULT_REPLAYER_OPTIONS, type ReplayerOptions } from "../defaults.ts";

export { DEFAULT_REPLAYER_OPTIONS, type ReplayerOptions };

export type ReplayStep =
  | { kind: "drained" }
  | { kind: "busy"; holder: string | null }
  | { kind: "replayed"; rows: number; applied: number; duplicates: number; deadLettered: number };

export class Replayer {
  #outbox: Outbox;
  #writer: TradeWriter;
  #options: ReplayerOptions;
  #isConsolidated: (market: string) => boolean;
  /**
   * Rows read ahead, all after the last removed row. Rows can only be removed by the lease
   * holder and appended with higher seqs, so a read-ahead is never wrong, only possibly short;
   * an empty one is never trusted (rows may have arrived since), so "drained" is always fresh.
   */
  #prefetched: OutboxRow[] | null = null;

  constructor(
    outbox: Outbox,
    writer: TradeWriter,
    isConsolidated: (market: string) => boolean,
    options: Partial<ReplayerOptions> & { holder: string },
  ) {
    this.#outbox = outbox;
    this.#writer = writer;
    this.#isConsolidated = isConsolidated;
    this.#options = { ...DEFAULT_REPLAYER_OPTIONS, ...options };
  }

  /**
   * Replays one batch. Returns `drained` when the outbox is empty (the lease is then released),
   * `busy` when another replayer holds the lease.
   * @throws when the primary fails or misses the deadline (nothing is removed then).
   */
  async step(): Promise<ReplayStep> {
    const { holder, leaseTtlMs, batchSize, deadlineMs, untilSeq } = this.#options;
    if (!this.#outbox.acquireLease(holder, leaseTtlMs)) {
      return { kind: "busy", holder: this.#outbox.leaseHolder() };
    }
    const prefetched = this.#prefetched;
    this.#prefetched = null;
    const rows = (prefetched?.length ? prefetched : this.#outbox.peek(batchSize))
      .filter((r) => r.seq <= untilSeq);
    if (!rows.length) {
      this.#outbox.releaseLease(holder);
      return { kind: "drained" };
    }
    const applying = withDeadline(
      this.#writer.apply(rows.map((r) => r.trade), this.#isConsolidated),
      deadlineMs,
      "primary replay",
    );
    // Read the next batch while the primary works on this one.
    let next: OutboxRow[] | null = null;
    try {
      next = this.#outbox.peek(batchSize, rows[rows.length - 1].seq);
    } catch { /* read again next step */ }
    const result = await applying;
    // Fencing: if the lease was lost while we waited, the new holder owns the rows now.
    if (!this.#outbox.renewLease(holder, leaseTtlMs)) return { kind: "busy", holder: null };
    const rejected = new Set(result.outOfOrder.map((t) => `${t.market}\n${t.id}`));
    const dead = rows.filter((r) => rejected.has(`${r.trade.market}\n${r.trade.id}`));
    if (dead.length) this.#outbox.deadLetter(dead, "out-of-order on the primary");
    this.#outbox.remove(rows[rows.length - 1].seq);
    this.#prefetched = next;
    return {
      kind: "replayed",
      rows: rows.length,
      applied: result.applied,
      duplicates: result.duplicates + result.stale,
      deadLettered: dead.length,
    };
  }

  release(): void {
    this.#outbox.releaseLease(this.#options.holder);
  }
}
