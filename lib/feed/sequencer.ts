/**
 * Per-market sequencing: raw trades in, trades with strictly increasing stream entry IDs out.
 *
 * Guarantees:
 * - Every trade returned has an entry ID greater than every ID returned (or seeded) before, so the
 *   stream append never fails for order within one market.
 * - A trade is returned at most once: for contiguous exchanges (ids +1) any id at or below the last
 *   one is a duplicate; for other exchanges a bounded set of recent ids catches overlaps (after a
 *   reconnect or a scheduled hand-over), and the exchange's order is trusted beyond it.
 * - For contiguous exchanges a missing id range is never skipped silently: {@link MarketSequencer.accept}
 *   stops at the first trade beyond last + 1 and returns the gap plus the unprocessed rest, so the
 *   caller can backfill first. Only an explicit `bridge` lets a gap through.
 * - A trade that aggregates `fills` exchange fills (OKX) covers the ids `tradeId - fills + 1` to
 *   `tradeId`: it follows `last` without a gap when its first id is last + 1, and a gap before it
 *   ends before its first id (those fills are the trade itself, never backfilled again).
 * - Ids are compared as BigInt, never as Number (Bybit's 19-digit ids exceed 2^53).
 * - The entry ID is `<ms>-<tradeId>` with ms = max(trade time, last ms); when that would not exceed
 *   the last ID (an exchange clock or id that went backwards), ms becomes last ms + 1 and
 *   `clockAdjusted` counts it. The trade's own `ts` is never changed.
 */

import { compareEntryIds, entryIdFor, isTradeIdText, type RawTrade, type Trade } from "../trade.ts";

/** What storage already holds for a market: its newest trade. */
export interface LastTrade {
  tradeId: string;
  ts: number;
  id: string;
}

/** A missing id range: trades strictly between `afterTradeId` and `beforeTradeId` are missing. */
export interface SequenceGap {
  afterTradeId: string;
  afterTs: number;
  beforeTradeId: string;
  beforeTs: number;
}

/** Outcome of {@link MarketSequencer.accept}. */
export interface AcceptResult {
  /** New trades in order, with entry IDs. */
  trades: Trade[];
  /** Trades dropped because they were already sequenced. */
  duplicates: number;
  /** Trades dropped because their trade id is not integer text (adapters should never send one). */
  invalid: number;
  /**
   * Of `duplicates` (contiguous exchanges): trades whose id is at or below the last one although
   * they happened more than `regressionAfterMs` after it — not an overlap but an id reset or a
   * wrong seed. They are still dropped (nothing can be proven) but must be reported loudly.
   */
  idRegressions: number;
  /** The first gap found, or null. */
  gap: SequenceGap | null;
  /** When `gap` is set: the raw trades from the one after the gap on, not processed. */
  rest: RawTrade[];
}

/** Tuning of {@link MarketSequencer}. */
export interface SequencerOptions {
  /** Ids remembered for duplicate detection on non-contiguous exchanges. @default 10_000 */
  recentIdLimit: number;
  /** A "duplicate" this much newer than the last trade counts as an id regression. @default 60_000 */
  regressionAfterMs: number;
}

/** The defaults of {@link SequencerOptions}. */
export const DEFAULT_SEQUENCER_OPTIONS: Readonly<SequencerOptions> = Object.freeze({
  recentIdLimit: 10_000,
  regressionAfterMs: 60_000,
});

/** Sequences one market's trades. Not shared between markets. */
export class MarketSequencer {
  readonly continuity: "contiguous" | "none";
  #recentLimit: number;
  #regressionAfterMs: number;
  #last: LastTrade | null = null;
  #lastSeq: bigint | null = null;
  #lastMs = 0;
  #recent = new Set<string>();
  #recentOrder: string[] = [];
  #recentHead = 0;
  #clockAdjusted = 0;

  constructor(continuity: "contiguous" | "none", options: Partial<SequencerOptions> = {}) {
    this.continuity = continuity;
    const limit = options.recentIdLimit ?? DEFAULT_SEQUENCER_OPTIONS.recentIdLimit;
    this.#recentLimit = Math.max(1, Math.floor(limit));
    this.#regressionAfterMs = options.regressionAfterMs ??
      DEFAULT_SEQUENCER_OPTIONS.regressionAfterMs;
  }

  /** The newest trade sequenced (or seeded), or null. */
  get last(): LastTrade | null {
    return this.#last;
  }

  /** How many entry IDs had to be moved past the trade time to stay increasing. */
  get clockAdjusted(): number {
    return this.#clockAdjusted;
  }

  /** Starts from what storage holds, so a restart neither duplicates nor misses. */
  seed(last: LastTrade | null): void {
    this.#last = null;
    this.#lastSeq = null;
    this.#lastMs = 0;
    this.#recent.clear();
    this.#recentOrder = [];
    this.#recentHead = 0;
    if (!last || !isTradeIdText(last.tradeId)) return;
    const ms = Number(last.id.split("-")[0]);
    this.#last = { ...last };
    this.#lastSeq = BigInt(last.tradeId);
    this.#lastMs = Number.isSafeInteger(ms) && ms >= 0 ? ms : Math.max(0, Math.floor(last.ts));
    this.#remember(last.tradeId);
  }

  /** True when `raw` was already sequenced (a duplicate `accept` would drop). */
  hasSeen(raw: Pick<RawTrade, "tradeId">): boolean {
    if (!isTradeIdText(raw.tradeId)) return false;
    if (this.continuity === "contiguous") {
      return this.#lastSeq !== null && BigInt(raw.tradeId) <= this.#lastSeq;
    }
    return this.#recent.has(raw.tradeId);
  }

  /**
   * Sequences `raw` (in exchange order). Stops at the first gap unless `bridge` is set, in which
   * case gaps are accepted without being reported (the caller has already dealt with them).
   */
  accept(raw: readonly RawTrade[], options: { bridge?: boolean } = {}): AcceptResult {
    const out: AcceptResult = {
      trades: [],
      duplicates: 0,
      invalid: 0,
      idRegressions: 0,
      gap: null,
      rest: [],
    };
    for (let i = 0; i < raw.length; i++) {
      const t = raw[i];
      if (!isTradeIdText(t.tradeId)) {
        out.invalid++;
        continue;
      }
      const seq = BigInt(t.tradeId);
      if (this.continuity === "contiguous" && this.#lastSeq !== null) {
        if (seq <= this.#lastSeq) {
          out.duplicates++;
          if (this.#last && t.ts > this.#last.ts + this.#regressionAfterMs) out.idRegressions++;
          continue;
        }
        const first = firstFillId(t, seq);
        if (first > this.#lastSeq + 1n && !options.bridge && this.#last) {
          out.gap = {
            afterTradeId: this.#last.tradeId,
            afterTs: this.#last.ts,
            beforeTradeId: String(first),
            beforeTs: t.ts,
          };
          out.rest = raw.slice(i);
          return out;
        }
      } else if (this.continuity === "none" && this.#recent.has(t.tradeId)) {
        out.duplicates++;
        continue;
      }
      out.trades.push(this.#assign(t, seq));
    }
    return out;
  }

  #assign(t: RawTrade, seq: bigint): Trade {
    const ts = Number.isFinite(t.ts) ? Math.max(0, Math.floor(t.ts)) : this.#lastMs;
    let ms = Math.max(ts, this.#lastMs);
    let id = entryIdFor(ms, t.tradeId);
    if (this.#last && compareEntryIds(id, this.#last.id) <= 0) {
      ms = this.#lastMs + 1;
      id = entryIdFor(ms, t.tradeId);
      this.#clockAdjusted++;
    }
    const trade: Trade = { ...t, id };
    this.#last = { tradeId: t.tradeId, ts: t.ts, id };
    this.#lastSeq = seq;
    this.#lastMs = ms;
    this.#remember(t.tradeId);
    return trade;
  }

  #remember(tradeId: string): void {
    if (this.continuity === "contiguous") return;
    if (this.#recent.has(tradeId)) return;
    this.#recent.add(tradeId);
    if (this.#recentOrder.length < this.#recentLimit) {
      this.#recentOrder.push(tradeId);
      return;
    }
    this.#recent.delete(this.#recentOrder[this.#recentHead]);
    this.#recentOrder[this.#recentHead] = tradeId;
    this.#recentHead = (this.#recentHead + 1) % this.#recentLimit;
  }
}

/** The id of the first exchange fill `t` stands for (its own id unless it aggregates fills). */
export function firstFillId(t: RawTrade, seq: bigint): bigint {
  const n = t.fills;
  if (n === undefined || !Number.isSafeInteger(n) || n <= 1) return seq;
  const first = seq - BigInt(n - 1);
  return first < 0n ? 0n : first;
}
