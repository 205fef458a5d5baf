/**
 * One market's trade path after the socket: sequencing, gap holding and backfill, quarantine.
 *
 * Guarantees:
 * - `emit` receives this market's trades in exchange trade order, entry IDs strictly increasing,
 *   each trade once (see {@link MarketSequencer}).
 * - Gaps are recovered, never invented. On an id gap (or, for contiguous exchanges, a first trade
 *   after a reconnect or restart beyond last + 1) live trades are held, the missing range is
 *   fetched over REST, and `emit` gets the backfilled trades, then the held ones. Every gap is
 *   reported once through `onGap` with how many trades were recovered and how many are still
 *   missing. For exchanges without id continuity the disconnect window is reported with
 *   `missing: null`: nothing is fetched or made up.
 * - Backfilled pages are sequenced and emitted as they arrive (one page in memory, whatever the
 *   gap's size), before any held live trade. REST errors are retried under the exchange's shared
 *   budget (see {@link backfill}); the gap's missing count is exact: what the history no longer
 *   had, or what was left when the backfill stopped.
 * - Held trades have no count limit: they are what arrives live while the backfill runs, so what
 *   bounds them is the backfill's duration (`giveUpAfterMs` without a served page ends it). They
 *   are never dropped while the pipeline runs. (Journaling them, and keeping the rest of a gap
 *   pending across restarts from `BackfillResult.resumeAfter`, is the journal's part.)
 * - Everything refused (adapter rejects, invalid ids, id regressions) is counted by reason.
 */

import type { ExchangeAdapter, ParseResult } from "../exchanges/adapter.ts";
import type { GapRecord, MarketState } from "../domain.ts";
import { log } from "../log.ts";
import { type Market, marketName, type RawTrade, type Trade } from "../trade.ts";
import {
  backfill,
  type BackfillOptions,
  type BackfillResult,
  gapRecordOf,
  notBackfilled,
} from "./backfill.ts";
import type { RestBudget } from "./rest_budget.ts";
import { Quarantine, type QuarantineReason } from "./quarantine.ts";
import {
  type LastTrade,
  MarketSequencer,
  type SequenceGap,
  type SequencerOptions,
} from "./sequencer.ts";
import { errorText } from "../redact.ts";

export type { GapRecord } from "../domain.ts";

/** A market's state, as `Feed.snapshot()` and `ReplaySource.snapshot()` report it. */
export interface MarketSnapshot {
  /** `blocked`: the exchange refuses this location (HTTP 451/403); retried slowly. */
  state: MarketState;
  /** Connection attempts after the first (planned hand-overs not included). */
  reconnects: number;
  /** Planned, overlapping replacements (age limit, exchange notice). */
  handovers: number;
  /** Gaps detected (id gaps and disconnect windows). */
  gaps: number;
  /** Gaps whose trades were all recovered. */
  gapsBackfilled: number;
  /** True while live trades are held for a backfill. */
  backfilling: boolean;
  /** Refused messages and trades by reason (adapter rejects, `id_regression`). */
  quarantined: Partial<Record<QuarantineReason, number>>;
  /** Latest connection failure or exchange error, one line. */
  lastError: string | null;
  /** Trades dropped because they were already delivered (overlaps, snapshots). */
  duplicates: number;
  /** Trades delivered. */
  trades: number;
  /** Entry IDs moved past their trade time to stay increasing. */
  clockAdjusted: number;
  lastTradeId: string | null;
  lastTradeTs: number | null;
}

/** Everything a {@link MarketPipeline} needs. */
export interface MarketPipelineInit {
  market: Market;
  adapter: ExchangeAdapter;
  /** REST base URL for backfill; defaults to the adapter's. */
  restUrl?: string;
  /** What storage holds, so a restart neither duplicates nor misses. */
  initialLast: LastTrade | null;
  /** Receives trades in order; must not throw. */
  emit: (trades: Trade[]) => void;
  /** Receives each gap once; must not throw. */
  onGap: (gap: GapRecord) => void;
  /** Receives exchange error messages (for `lastError`). */
  onError: (message: string) => void;
  backfill?: Partial<BackfillOptions>;
  /** The exchange's REST budget, shared by its markets; required when the adapter has REST. */
  restBudget?: RestBudget;
  sequencer?: Partial<SequencerOptions>;
  /** @default 10_000 */
  rejectLogIntervalMs?: number;
  now: () => number;
  /** Aborting stops backfills; nothing is emitted afterwards. */
  signal: AbortSignal;
}

interface Held {
  trades: RawTrade[];
  fresh: boolean;
}

/** Sequences, gap-fills and counts one market's trades. */
export class MarketPipeline {
  readonly name: string;
  readonly sequencer: MarketSequencer;
  readonly quarantine: Quarantine;
  gaps = 0;
  gapsBackfilled = 0;
  duplicates = 0;
  trades = 0;
  #init: MarketPipelineInit;
  #fresh = false;
  #backfilling = false;
  #held: Held[] = [];
  #pending = new Set<Promise<void>>();

  constructor(init: MarketPipelineInit) {
    this.#init = init;
    this.name = marketName(init.market);
    this.sequencer = new MarketSequencer(init.adapter.continuity, init.sequencer);
    this.sequencer.seed(init.initialLast);
    this.quarantine = new Quarantine(this.name, init.now, init.rejectLogIntervalMs);
  }

  /** True while live trades are held for a backfill. */
  get backfilling(): boolean {
    return this.#backfilling;
  }

  /** A fresh connection opened: its first trades may reveal a disconnect gap. */
  connectionOpened(): void {
    this.#fresh = true;
  }

  /** One parsed message from the connection. */
  message(r: ParseResult): void {
    for (const rej of r.rejects) this.quarantine.add(rej.reason, rej.sample);
    for (const e of r.events) {
      if (e.kind === "error") {
        this.#init.onError(e.message);
        this.quarantine.sampled("exchange_error", () => {
          log.warn("feed.exchange_error", { market: this.name, message: e.message });
        });
      } else if (e.kind === "status") {
        log.info("feed.exchange_status", { market: this.name, status: e.status });
      }
    }
    if (!r.trades.length) return;
    const fresh = this.#fresh;
    this.#fresh = false;
    this.#ingest(r.trades, fresh);
  }

  /** Resolves when no backfill is running. */
  async idle(): Promise<void> {
    while (this.#pending.size) await Promise.all([...this.#pending]);
  }

  #ingest(raw: RawTrade[], fresh: boolean): void {
    if (!raw.length || this.#init.signal.aborted) return;
    if (this.#backfilling) {
      this.#held.push({ trades: raw, fresh });
      return;
    }
    const seq = this.sequencer;
    const before = seq.last;
    const r = seq.accept(raw);
    this.duplicates += r.duplicates - r.idRegressions;
    this.quarantine.add("bad_trade_id", "", r.invalid);
    if (r.idRegressions) {
      const sample = `ids at or below ${before?.tradeId} more than a minute after it`;
      this.quarantine.add("id_regression", sample, r.idRegressions);
    }
    if (seq.continuity === "none" && fresh && before && r.trades.length && !r.duplicates) {
      // No overlap with what we had, and no way to know what was missed: report the window.
      const first = r.trades[0];
      this.#report({
        market: this.name,
        reason: "disconnect",
        afterTradeId: before.tradeId,
        beforeTradeId: first.tradeId,
        fromTs: before.ts,
        toTs: first.ts,
        recovered: 0,
        missing: null,
      });
    }
    this.#emit(r.trades);
    if (r.gap) {
      const reason = fresh && r.trades.length === 0 ? "disconnect" : "id_gap";
      this.#startBackfill(r.gap, reason, r.rest);
    }
  }

  #startBackfill(gap: SequenceGap, reason: GapRecord["reason"], rest: RawTrade[]): void {
    this.#backfilling = true;
    this.#held = [{ trades: rest, fresh: false }];
    const { adapter, market, restUrl, restBudget: budget } = this.#init;
    if (!adapter.rest || !budget) {
      this.#finishBackfill(gap, reason, notBackfilled("no REST history"), 0);
      return;
    }
    log.info("feed.backfill_started", {
      market: this.name,
      reason,
      afterTradeId: gap.afterTradeId,
      beforeTradeId: gap.beforeTradeId,
    });
    let recovered = 0;
    const sink = {
      trades: (page: RawTrade[]) => {
        if (this.#init.signal.aborted) return;
        const filled = this.sequencer.accept(page, { bridge: true });
        recovered += filled.trades.length;
        this.#emit(filled.trades.map((t) => ({ ...t, late: true })));
      },
      rejects: (rejects: ParseResult["rejects"]) => {
        for (const rej of rejects) this.quarantine.add(rej.reason, rej.sample);
      },
    };
    const p = backfill(
      { adapter, market, restUrl, budget },
      gap,
      sink,
      this.#init.backfill,
      this.#init.signal,
      this.#init.now,
    )
      .then((result) => this.#finishBackfill(gap, reason, result, recovered))
      .catch((e) => log.error("feed.backfill_crashed", { market: this.name, error: errorText(e) }))
      .finally(() => this.#pending.delete(p));
    this.#pending.add(p);
  }

  #finishBackfill(
    gap: SequenceGap,
    reason: GapRecord["reason"],
    result: BackfillResult,
    recovered: number,
  ): void {
    if (this.#init.signal.aborted) return;
    const record = gapRecordOf(this.name, gap, reason, recovered);
    if (record.missing) {
      log.warn("feed.backfill_incomplete", {
        market: this.name,
        missing: record.missing,
        pages: result.pages,
        retries: result.retries,
        error: result.error ?? "the exchange's history no longer has them",
      });
    }
    this.#report(record);
    const held = this.#held;
    this.#held = [];
    this.#backfilling = false;
    // The trade that revealed the gap goes next, even if the gap could not be (fully) filled.
    const [first, ...later] = held;
    const bridged = this.sequencer.accept(first.trades.slice(0, 1), { bridge: true });
    this.duplicates += bridged.duplicates;
    this.#emit(bridged.trades);
    this.#ingest(first.trades.slice(1), false);
    for (const h of later) this.#ingest(h.trades, h.fresh);
  }

  #report(gap: GapRecord): void {
    this.gaps++;
    if (gap.missing === 0) this.gapsBackfilled++;
    log[gap.missing === 0 ? "info" : "warn"]("feed.gap", { ...gap });
    this.#init.onGap(gap);
  }

  #emit(trades: Trade[]): void {
    if (!trades.length) return;
    this.trades += trades.length;
    this.#init.emit(trades);
  }

  /** This market's snapshot, given what its connection (or replay reader) reports. */
  snapshot(
    link: Pick<MarketSnapshot, "state" | "reconnects" | "handovers" | "lastError">,
  ): MarketSnapshot {
    const last = this.sequencer.last;
    return {
      ...link,
      gaps: this.gaps,
      gapsBackfilled: this.gapsBackfilled,
      backfilling: this.backfilling,
      quarantined: { ...this.quarantine.counts },
      duplicates: this.duplicates,
      trades: this.trades,
      clockAdjusted: this.sequencer.clockAdjusted,
      lastTradeId: last?.tradeId ?? null,
      lastTradeTs: last?.ts ?? null,
    };
  }
}
