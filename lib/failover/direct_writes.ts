/**
 * The core's `primary`-mode path: committed trades held in memory and written straight to the
 * primary in batches, then acknowledged in the journal (after `WAIT`, with `--primary-replicas`).
 *
 * Invariants: every trade here is also pending in the journal (seq > 0), except when the journal
 * refused it (seq 0: written from memory only); the memory copy is in commit order; a batch is
 * acknowledged only after the primary (and its replicas) confirmed it, so a failed or unknown
 * write leaves it pending for the replayer.
 *
 * Two batches in flight: while the primary applies one batch, the next is encoded and sent
 * behind it on the same connection (so the client's encoding overlaps the server's script time
 * instead of adding to it). Redis runs one connection's commands in order, and the client never
 * re-sends (no offline queue, no retries), so batches still land in commit order. Outcomes are
 * consumed in order: the second is acknowledged only after the first was; when the first fails,
 * the second's outcome is ignored whatever it is (its rows stay pending; a replay of rows it did
 * write finds duplicates), and {@link DirectWrites.drop} forgets a batch still in flight the
 * same way, so nothing is acknowledged once the core left `primary` mode.
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

/** A batch sent to the primary whose outcome nobody consumed yet. */
interface InFlight {
  batch: Trade[];
  seqs: number[];
  started: number;
  written: Promise<ApplyResult>;
}

/** The memory copy and its writer; see the module comment. */
export class DirectWrites {
  #deps: DirectWritesDeps;
  #trades: Trade[] = [];
  #seqs: number[] = [];
  #inFlight = 0;
  /** The batch sent behind the one being awaited (see the module comment). */
  #next: InFlight | null = null;
  /** Set when an acknowledgement could not be stored (a harmless re-send later). */
  ackError: unknown = null;

  constructor(deps: DirectWritesDeps) {
    this.#deps = deps;
  }

  /** Trades held in memory, including the batches in flight. */
  get size(): number {
    return this.#trades.length + this.#inFlight + (this.#next?.batch.length ?? 0);
  }

  /** Adds committed trades; `seqs[i]` is the journal seq of `trades[i]` (0: not journaled). */
  push(trades: readonly Trade[], seqs: readonly number[]): void {
    for (let i = 0; i < trades.length; i++) {
      this.#trades.push(trades[i]);
      this.#seqs.push(seqs[i]);
    }
  }

  /** Writes the oldest batch (and sends the next behind it); never throws. */
  async writeNext(): Promise<DirectWriteOutcome> {
    const cur = this.#next ?? this.#send();
    this.#next = this.#trades.length ? this.#send() : null;
    this.#inFlight = cur.batch.length;
    let written: ApplyResult | null = null;
    try {
      written = await cur.written;
      const ms = this.#deps.clock() - cur.started;
      await this.confirm();
      if (written.rejected.length) {
        this.#deps.refused(written.rejected, rowsOf(written.rejected, cur.batch, cur.seqs));
      }
      const foreign = !this.#ack(cur.seqs);
      return { ok: true, result: written, ms, foreign };
    } catch (error) {
      // The batch sent behind this one is forgotten: its outcome is never acknowledged.
      const next = this.#next ?? { batch: [], seqs: [] };
      this.#next = null;
      this.#trades.unshift(...cur.batch, ...next.batch);
      this.#seqs.unshift(...cur.seqs, ...next.seqs);
      return { ok: false, error, written };
    } finally {
      this.#inFlight = 0;
    }
  }

  /** Takes the oldest batch off the memory copy and sends it (the encoding happens now). */
  #send(): InFlight {
    const { primary, isConsolidated, deadlineMs, maxBatch } = this.#deps;
    const batch = this.#trades.splice(0, maxBatch);
    const seqs = this.#seqs.splice(0, batch.length);
    const started = this.#deps.clock();
    const apply = primary.writer.apply(batch, isConsolidated); // async: throws as a rejection
    const written = withDeadline(apply, deadlineMs, "primary write");
    written.catch(() => {}); // consumed by writeNext, or forgotten by drop / a failure before it
    return { batch, seqs, started, written };
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
    const next = this.#next ?? { batch: [], seqs: [] };
    this.#next = null; // in flight: its outcome is never acknowledged
    const trades = [...next.batch, ...this.#trades];
    const unjournaled = [...next.seqs, ...this.#seqs].filter((s) => s === 0).length;
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
      const held = [seqs, this.#next?.seqs ?? [], this.#seqs];
      const ours = held.reduce((n, list) => n + list.filter((s) => s > 0).length, 0);
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
