/**
 * The core's `primary`-mode path: committed trades held in memory and written straight to the
 * primary in batches, then acknowledged in the journal (after `WAIT`, with `--primary-replicas`).
 *
 * Invariants: every trade here is also pending in the journal (seq > 0), except when the journal
 * refused it (seq 0: written from memory only); the memory copy is in commit order; a batch is
 * acknowledged only after the primary (and its replicas) confirmed it, so a failed or unknown
 * write leaves it pending for the replayer.
 */

import type { Trade } from "../trade.ts";
import type { Journal, JournalRow } from "../store/journal.ts";
import type { RedisTarget } from "./targets.ts";
import type { ApplyResult, RejectedChunk } from "../redis/writer.ts";
import { type MonotonicClock, withDeadline } from "../time.ts";
import { confirmReplicas } from "./replicas.ts";

/** What a direct write needs. */
export interface DirectWritesDeps {
  journal: Journal;
  primary: RedisTarget;
  isConsolidated: (market: string) => boolean;
  /** Replicas `WAIT` must confirm (0: none). */
  replicas: number;
  deadlineMs: number;
  maxBatch: number;
  /** Measures the write's latency. */
  clock: MonotonicClock;
  /**
   * Stores what the primary refused for its content as dead letters, before the batch is
   * acknowledged; `rows` are the refused trades' journal rows (seq 0: not journaled).
   */
  refused: (chunks: readonly RejectedChunk[], rows: readonly JournalRow[][]) => void;
}

/** How one direct write ended; on failure the batch is back at the head of the memory copy. */
export type DirectWriteOutcome =
  /** `foreign`: the journal held pending rows this copy does not (a dead-letter retry, a rewind);
   * the batch was written but left pending, and the caller must replay the journal. */
  | { ok: true; result: ApplyResult; ms: number; foreign: boolean }
  | { ok: false; error: unknown; written: ApplyResult | null };

/** The memory copy and its writer; see the module comment. */
export class DirectWrites {
  #deps: DirectWritesDeps;
  #trades: Trade[] = [];
  #seqs: number[] = [];
  #inFlight = 0;
  /** Set when an acknowledgement could not be stored (a harmless re-send later). */
  ackError: unknown = null;

  constructor(deps: DirectWritesDeps) {
    this.#deps = deps;
  }

  /** Trades held in memory, including the batch in flight. */
  get size(): number {
    return this.#trades.length + this.#inFlight;
  }

  /** Adds committed trades; `seqs[i]` is the journal seq of `trades[i]` (0: not journaled). */
  push(trades: readonly Trade[], seqs: readonly number[]): void {
    for (let i = 0; i < trades.length; i++) {
      this.#trades.push(trades[i]);
      this.#seqs.push(seqs[i]);
    }
  }

  /** Writes the oldest batch; never throws. */
  async writeNext(): Promise<DirectWriteOutcome> {
    const { primary, isConsolidated, deadlineMs, maxBatch } = this.#deps;
    const batch = this.#trades.splice(0, maxBatch);
    const seqs = this.#seqs.splice(0, batch.length);
    this.#inFlight = batch.length;
    const started = this.#deps.clock();
    let written: ApplyResult | null = null;
    try {
      written = await withDeadline(
        primary.writer.apply(batch, isConsolidated),
        deadlineMs,
        "primary write",
      );
      const ms = this.#deps.clock() - started;
      await this.confirm();
      if (written.rejected.length) {
        this.#deps.refused(written.rejected, rowsOf(written.rejected, batch, seqs));
      }
      const foreign = !this.#ack(seqs);
      return { ok: true, result: written, ms, foreign };
    } catch (error) {
      this.#trades.unshift(...batch);
      this.#seqs.unshift(...seqs);
      return { ok: false, error, written };
    } finally {
      this.#inFlight = 0;
    }
  }

  /** `WAIT` for `--primary-replicas`, within the write deadline. @throws ReplicaShortfall */
  confirm(): Promise<void> {
    const { replicas, deadlineMs, primary } = this.#deps;
    if (replicas <= 0) return Promise.resolve();
    const wait = confirmReplicas(primary.redis, replicas, deadlineMs / 2);
    return withDeadline(wait, deadlineMs, "replica wait");
  }

  /** Empties the memory copy (the journal keeps it pending); says how many were not journaled. */
  drop(): { trades: Trade[]; unjournaled: number } {
    const trades = this.#trades;
    const unjournaled = this.#seqs.filter((s) => s === 0).length;
    this.#trades = [];
    this.#seqs = [];
    return { trades, unjournaled };
  }

  /**
   * Acknowledges the batch `seqs`, unless the journal holds pending rows this copy does not hold
   * (the blanket `ack(upTo)` would pass them unwritten); false then, and nothing is acknowledged.
   */
  #ack(seqs: number[]): boolean {
    let upTo = 0;
    for (const s of seqs) if (s > upTo) upTo = s;
    if (!upTo) return true;
    try {
      const ours = seqs.filter((s) => s > 0).length + this.#seqs.filter((s) => s > 0).length;
      if (this.#deps.journal.depth() > ours) return false;
      this.#deps.journal.ack(upTo);
      this.ackError = null;
    } catch (e) {
      this.ackError = e;
    }
    return true;
  }
}

/** The journal rows (`seqs[i]` for `batch[i]`) of each refused chunk's trades, in order. */
function rowsOf(
  chunks: readonly RejectedChunk[],
  batch: readonly Trade[],
  seqs: readonly number[],
): JournalRow[][] {
  const seqOf = new Map(batch.map((t, i) => [`${t.market}\n${t.id}`, seqs[i]]));
  return chunks.map((c) =>
    c.trades.map((trade) => ({ seq: seqOf.get(`${trade.market}\n${trade.id}`) ?? 0, trade }))
  );
}
