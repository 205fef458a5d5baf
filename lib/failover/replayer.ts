/**
 * Replays the journal's pending rows (the outbox) into the primary, in seq order, under the
 * journal's replay lease, and acknowledges them.
 *
 * Invariants:
 * - Only the lease holder replays, so batches from two replayers never interleave.
 * - Rows are acknowledged only after the primary (and, with `--primary-replicas`, `WAIT`)
 *   confirmed them; a replay killed at any point re-sends from the oldest pending row, and the
 *   apply script makes the repeats no-ops.
 * - A row the primary rejects as out-of-order, or refuses for its content (a key of the wrong
 *   type, a value the script refuses), is moved to the dead-letter table with the reason
 *   (counted, kept), never dropped silently, and never blocks: the other rows of the batch and
 *   of every other market are applied and the replay goes on.
 * - A step that throws or loses the lease keeps no read-ahead: the next step reads afresh. A
 *   read-ahead is also dropped when the oldest row is no longer its first (a dead-letter retry
 *   put rows back below it), so no row is ever removed unreplayed.
 * - Any stale copy still in flight from an earlier attempt holds only trades at or after the
 *   oldest unacknowledged row, so it can only duplicate, never reorder.
 * - Every replayed trade is written late (`"late":true` on `P:trades`, never on `btc_price`,
 *   never moving `P:btc:last` back in trade time): it was received before it could be written.
 *
 * - Each step has its own deadline, sized by its pipeline's bytes ({@link replayDeadlineMs}:
 *   `deadlineMs + bytes / floorBytesPerSec`, the floor 1 Mbit/s by default), independent of the
 *   live write deadline: give the replayer a writer on a connection without a command timeout
 *   (`RedisTarget.replayWriter`), or that timeout caps every step whatever this deadline says.
 *   A 5,000-row step (about 400 KB) then gets about 8 s: a 5 Mbit/s link needs 0.7 s of it.
 *   The lease is held at least that long plus `leaseTtlMs`, so a slow step keeps it.
 *
 * {@link Replayer.drain} is the one replay loop (the core's sync, the stream after a replay,
 * `btcfeed sync`); callers differ only in its options: whether to wait for a busy lease or a
 * failing primary, and when to stop.
 */

import { setImmediate } from "node:timers";
import type { Journal, JournalRow } from "../store/journal.ts";
import type { Trade } from "../trade.ts";
import type { RejectedChunk, TradeWriter } from "../redis/writer.ts";
import { sleep, withDeadline } from "../time.ts";
import { APPLY_SCRIPT, encodeTradeArg } from "../redis/apply_script.ts";
import { BTC_SCRIPT } from "../redis/btc_script.ts";
import { DEFAULT_REPLAYER_OPTIONS, type ReplayerOptions } from "../defaults.ts";

export { DEFAULT_REPLAYER_OPTIONS, type ReplayerOptions };

export type ReplayStep =
  | { kind: "drained" }
  | { kind: "busy"; holder: string | null }
  | {
    kind: "replayed";
    rows: number;
    applied: number;
    duplicates: number;
    /** Rows moved to dead letters: `outOfOrder` plus the trades of `rejected`. */
    deadLettered: number;
    outOfOrder: number;
    /** Chunks the primary refused for their content (now dead letters). */
    rejected: RejectedChunk[];
  };

/** One replayed batch, as {@link Replayer.step} reports it. */
export type ReplayedBatch = Extract<ReplayStep, { kind: "replayed" }>;

/** How {@link Replayer.drain} reacts; every field is optional. */
export interface DrainOptions {
  /** Aborting ends the drain (`stopped`) at the next step or wait. */
  signal?: AbortSignal;
  /** Checked before every step; false ends the drain (`stopped`). @default always true */
  proceed?: () => boolean;
  /** Called after every replayed batch (counters, progress). */
  onBatch?: (batch: ReplayedBatch) => void;
  /** Wait this long and retry while another replayer holds the lease; null returns `busy`. @default null */
  busyRetryMs?: number | null;
  /** Called each time the lease is found busy. */
  onBusy?: (holder: string | null) => void;
  /** Wait this long and retry after a failed step; null returns `failed`. @default null */
  errorRetryMs?: number | null;
  /** Called with each failed step's error (when retrying). */
  onError?: (error: unknown) => void;
}

/** How {@link Replayer.drain} ended. */
export type DrainOutcome =
  | { kind: "drained" }
  | { kind: "busy"; holder: string | null }
  | { kind: "failed"; error: unknown }
  | { kind: "stopped" };

/** Per-chunk (keys, market, options) and per-trade (RESP framing) bytes besides the trades. */
const CHUNK_OVERHEAD_BYTES = 400;
const TRADE_OVERHEAD_BYTES = 16;

/** About how many bytes the write pipeline of `trades` puts on the wire (the script included). */
export function pipelineBytes(trades: readonly Trade[], chunkSize = 100): number {
  let bytes = APPLY_SCRIPT.length + BTC_SCRIPT.length +
    CHUNK_OVERHEAD_BYTES * Math.ceil(trades.length / chunkSize);
  for (const t of trades) bytes += encodeTradeArg(t).length + TRADE_OVERHEAD_BYTES;
  return bytes;
}

/** The deadline of a replay step of `bytes`: `baseMs + bytes / floorBytesPerSec`, in ms. */
export function replayDeadlineMs(bytes: number, baseMs: number, floorBytesPerSec: number): number {
  return baseMs + Math.ceil((bytes * 1000) / floorBytesPerSec);
}

export class Replayer {
  #journal: Journal;
  /** `WAIT` for `--primary-replicas` after each batch; throws ReplicaShortfall when too few. */
  #confirm: () => Promise<void>;
  #writer: TradeWriter;
  #options: ReplayerOptions;
  #isConsolidated: (market: string) => boolean;
  /**
   * Rows read ahead, all after the last removed row. Rows can only be removed by the lease
   * holder and appended with higher seqs, so a read-ahead is never wrong, only possibly short;
   * an empty one is never trusted (rows may have arrived since), so "drained" is always fresh.
   */
  #prefetched: JournalRow[] | null = null;

  constructor(
    journal: Journal,
    writer: TradeWriter,
    isConsolidated: (market: string) => boolean,
    options: Partial<ReplayerOptions> & { holder: string },
    confirm: () => Promise<void> = () => Promise.resolve(),
  ) {
    this.#confirm = confirm;
    this.#journal = journal;
    this.#writer = writer;
    this.#isConsolidated = isConsolidated;
    this.#options = { ...DEFAULT_REPLAYER_OPTIONS, ...options };
  }

  /**
   * Replays one batch. Returns `drained` when nothing is pending (the lease is then released),
   * `busy` when another replayer holds the lease.
   * @throws when the primary fails or misses the deadline (nothing is removed then).
   */
  async step(): Promise<ReplayStep> {
    const { holder, leaseTtlMs, batchSize, deadlineMs, floorBytesPerSec, untilSeq } = this.#options;
    if (!this.#journal.acquireLease(holder, leaseTtlMs)) {
      return { kind: "busy", holder: this.#journal.leaseHolder() };
    }
    const prefetched = this.#prefetched;
    this.#prefetched = null;
    const rows = (this.#stillFirst(prefetched) ?? this.#journal.peek(batchSize))
      .filter((r) => r.seq <= untilSeq);
    if (!rows.length) {
      this.#journal.releaseLease(holder);
      return { kind: "drained" };
    }
    const trades = rows.map((r) => r.trade);
    const bytes = pipelineBytes(trades, this.#writer.options.chunkSize);
    const stepDeadlineMs = replayDeadlineMs(bytes, deadlineMs, floorBytesPerSec);
    if (!this.#journal.renewLease(holder, stepDeadlineMs + leaseTtlMs)) {
      return { kind: "busy", holder: this.#journal.leaseHolder() };
    }
    const applying = withDeadline(
      this.#writer.apply(trades, this.#isConsolidated, { late: true }),
      stepDeadlineMs,
      `primary replay of ${bytes} bytes`,
    );
    // Read the next batch while the primary works on this one: after one event-loop turn, so
    // the pipeline is on the wire first (the read is synchronous and would hold it back).
    applying.catch(() => {}); // awaited below; a rejection during the yield is not unhandled
    await new Promise((r) => setImmediate(r));
    let next: JournalRow[] | null = null;
    try {
      next = this.#journal.peek(batchSize, rows[rows.length - 1].seq);
    } catch { /* read again next step */ }
    const result = await applying;
    await this.#confirm();
    // Fencing: if the lease was lost while we waited, the new holder owns the rows now.
    if (!this.#journal.renewLease(holder, leaseTtlMs)) return { kind: "busy", holder: null };
    const outOfOrder = this.#deadLetter(rows, result.outOfOrder, "out-of-order on the primary");
    let refused = 0;
    for (const c of result.rejected) refused += this.#deadLetter(rows, c.trades, c.reason);
    this.#journal.ack(rows[rows.length - 1].seq);
    this.#prefetched = next;
    return {
      kind: "replayed",
      rows: rows.length,
      applied: result.applied,
      duplicates: result.duplicates + result.stale,
      deadLettered: outOfOrder + refused,
      outOfOrder,
      rejected: result.rejected,
    };
  }

  /** Moves the rows holding `trades` to the dead letters with `reason`; returns how many. */
  #deadLetter(rows: JournalRow[], trades: readonly Trade[], reason: string): number {
    if (!trades.length) return 0;
    const keys = new Set(trades.map((t) => `${t.market}\n${t.id}`));
    const dead = rows.filter((r) => keys.has(`${r.trade.market}\n${r.trade.id}`));
    return dead.length ? this.#journal.deadLetter(dead, reason) : 0;
  }

  /** The read-ahead when the outbox's oldest row is still its first; else null (read afresh). */
  #stillFirst(rows: JournalRow[] | null): JournalRow[] | null {
    if (!rows?.length) return null;
    return this.#journal.peek(1)[0]?.seq === rows[0].seq ? rows : null;
  }

  /**
   * Replays batch after batch until the outbox is drained (up to `untilSeq`), or `options` end it
   * earlier; never throws for a failing primary (that is `failed`, or a retry).
   */
  async drain(options: DrainOptions = {}): Promise<DrainOutcome> {
    const { proceed = () => true, busyRetryMs = null, errorRetryMs = null } = options;
    const signal = options.signal ?? new AbortController().signal;
    while (!signal.aborted && proceed()) {
      let step: ReplayStep;
      try {
        step = await this.step();
      } catch (error) {
        if (errorRetryMs === null) return { kind: "failed", error };
        options.onError?.(error);
        await sleep(errorRetryMs, signal);
        continue;
      }
      if (step.kind === "drained") return step;
      if (step.kind === "replayed") {
        options.onBatch?.(step);
        continue;
      }
      options.onBusy?.(step.holder);
      if (busyRetryMs === null) return step;
      await sleep(busyRetryMs, signal);
    }
    return { kind: "stopped" };
  }

  release(): void {
    this.#journal.releaseLease(this.#options.holder);
  }
}
