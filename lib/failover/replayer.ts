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
 * - Two batches are in flight at most: while the primary applies one, the next one (the rows
 *   right after it) is already queued behind it on the same connection, so the server never
 *   waits for the replayer's reads, acks and encoding. Batches are acknowledged one at a time,
 *   in seq order, each only after its own reply. On a cluster one batch is in flight: a
 *   redirected pipeline is re-sent by the client on its own and could land after the next.
 * - A step that throws or loses the lease forgets the batch sent behind it: the next step
 *   re-sends from the oldest pending row. So does a step whose oldest pending row is not that
 *   batch's first (rows put back below it), so no row is ever removed unreplayed.
 * - Any stale copy still in flight from an earlier attempt holds only trades at or after the
 *   oldest unacknowledged row, in seq order, like the re-sent copy: whichever copy a batch is
 *   applied from, the batch before it was applied first, so a repeat only duplicates, never
 *   reorders.
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
import type { ApplyResult, RejectedChunk, TradeWriter } from "../redis/writer.ts";
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

/**
 * A batch on the wire, not yet acknowledged. At most two are in flight (the one being settled
 * and the one right behind it, on the same connection, so the server applies them in order).
 */
interface InFlight {
  rows: JournalRow[];
  bytes: number;
  applying: Promise<ApplyResult>;
}

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
   * The batch sent behind the one being settled: the rows right after it. Rows can only be
   * removed by the lease holder and appended with higher seqs, so it is never wrong, only
   * possibly short; none is never trusted (rows may have arrived since), so "drained" is fresh.
   */
  #ahead: InFlight | null = null;

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
   * `busy` when another replayer holds the lease. The next batch is already on the wire behind
   * this one when it returns (see {@link InFlight}).
   * @throws when the primary fails or misses the deadline (nothing is removed then).
   */
  async step(): Promise<ReplayStep> {
    const { holder, leaseTtlMs, batchSize } = this.#options;
    if (!this.#journal.acquireLease(holder, leaseTtlMs)) return this.#busy();
    let current = this.#stillFirst(this.#ahead);
    this.#ahead = null;
    if (!current) {
      const rows = this.#pending(batchSize, 0);
      if (!rows.length) {
        this.#journal.releaseLease(holder);
        return { kind: "drained" };
      }
      current = this.#send(rows, 0);
      if (!current) return this.#busy();
    }
    if (this.#writer.appliesInOrder) {
      // Put the next batch on the wire behind this one, so the server never waits for us: after
      // one event-loop turn, so this one's pipeline is sent first (the read is synchronous).
      await new Promise((r) => setImmediate(r));
      try {
        const next = this.#pending(batchSize, current.rows[current.rows.length - 1].seq);
        if (next.length) this.#ahead = this.#send(next, current.bytes);
      } catch { /* read again next step */ }
    }
    let result: ApplyResult;
    try {
      result = await current.applying;
      await this.#confirm(); // WAIT covers the batch behind too: sent before it, same connection
    } catch (e) {
      this.#ahead = null;
      throw e;
    }
    // Fencing: if the lease was lost while we waited, the new holder owns the rows now.
    if (!this.#journal.renewLease(holder, leaseTtlMs)) return this.#busy();
    return this.#settle(current.rows, result);
  }

  /** Pending rows after `afterSeq`, at most `limit`, none past `untilSeq`. */
  #pending(limit: number, afterSeq: number): JournalRow[] {
    return this.#journal.peek(limit, afterSeq).filter((r) => r.seq <= this.#options.untilSeq);
  }

  /**
   * Sends `rows` behind `queuedBytes` already on the wire, its deadline sized by both and the
   * lease held that long; null when the lease is lost.
   */
  #send(rows: JournalRow[], queuedBytes: number): InFlight | null {
    const { holder, leaseTtlMs, deadlineMs, floorBytesPerSec } = this.#options;
    const trades = rows.map((r) => r.trade);
    const bytes = pipelineBytes(trades, this.#writer.options.chunkSize);
    const ms = replayDeadlineMs(queuedBytes + bytes, deadlineMs, floorBytesPerSec);
    if (!this.#journal.renewLease(holder, ms + leaseTtlMs)) return null;
    const applying = withDeadline(
      this.#writer.apply(trades, this.#isConsolidated, { late: true }),
      ms,
      `primary replay of ${bytes} bytes`,
    );
    applying.catch(() => {}); // awaited by its step; a batch dropped unawaited is re-sent
    return { rows, bytes, applying };
  }

  /** The lease is someone else's: whatever is in flight is theirs to re-send. */
  #busy(): ReplayStep {
    this.#ahead = null;
    return { kind: "busy", holder: this.#journal.leaseHolder() };
  }

  /** Dead-letters what the primary refused of `rows`, acknowledges them all, and reports. */
  #settle(rows: JournalRow[], result: ApplyResult): ReplayedBatch {
    const outOfOrder = this.#deadLetter(rows, result.outOfOrder, "out-of-order on the primary");
    let refused = 0;
    for (const c of result.rejected) refused += this.#deadLetter(rows, c.trades, c.reason);
    this.#journal.ack(rows[rows.length - 1].seq);
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

  /** The batch sent ahead when the outbox's oldest row is still its first; else null. */
  #stillFirst(ahead: InFlight | null): InFlight | null {
    if (!ahead) return null;
    return this.#journal.peek(1)[0]?.seq === ahead.rows[0].seq ? ahead : null;
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
