/**
 * One market's trade path after the socket: sequencing, gap holding and backfill, quarantine.
 *
 * Guarantees:
 * - `emit` receives this market's trades in exchange trade order, entry IDs strictly increasing,
 *   each trade once (see {@link MarketSequencer}).
 * - Gaps are recovered, never invented. On an id gap live trades are held, the missing range is
 *   fetched over REST, and `emit` gets the backfilled trades, then the held ones. Every gap is
 *   reported once through `onGap` with how many trades were recovered and how many are missing
 *   (exact: what the exchange's history no longer had). For exchanges without id continuity the
 *   disconnect window is reported with `missing: null`: nothing is fetched or made up.
 * - Catch-up on every (re)connect and start, without waiting for a live trade: where ids are
 *   contiguous and REST history exists, a connection that opens with a last known trade starts
 *   a backfill from it at once, live trades held behind it. It stops at the first held live
 *   trade, or when REST has nothing newer (the tape is quiet): then no gap is recorded when
 *   nothing was missed, and a `disconnect` gap with the exact recovered count when trades were.
 * - Backfilled pages are sequenced and emitted as they arrive (one page in memory, whatever the
 *   gap's size), before any held live trade; there is no trade cap. REST errors are retried under
 *   the exchange's shared budget (see {@link backfill}); an attempt that got no page for
 *   `giveUpAfterMs` is followed by another after `retryAttemptMs`: a gap ends only when closed,
 *   when the history no longer has the trades, on a permanent refusal, or at shutdown.
 * - Held live trades are kept on disk with a `recovery` store: at most a small window in memory
 *   (see {@link HeldQueue}), read back page by page in order when the backfill ends. The gap
 *   itself is kept pending there (bounds, progress, recovered so far) and resumed at the next
 *   start from the journal's last trade, its held trades still behind it. Without a store
 *   (replay, tests) both stay in memory and a stop forgets them.
 * - Everything refused (adapter rejects, invalid ids, id regressions) is counted by reason.
 */

import type { ParseResult } from "../exchanges/adapter.ts";
import type { GapRecord } from "../domain.ts";
import { log } from "../log.ts";
import { marketName, type RawTrade, type Trade } from "../trade.ts";
import { type AcceptResult, MarketSequencer } from "./sequencer.ts";
import { Quarantine } from "./quarantine.ts";
import { HeldQueue } from "./_held_queue.ts";
import { type ActiveGap, GapRun, newGap, resumedGap, whileBusy } from "./_gap_run.ts";
import type { MarketPipelineInit, MarketSnapshot } from "./pipeline_types.ts";
import { errorText } from "../redact.ts";

export type { GapRecord } from "../domain.ts";
export type { MarketPipelineInit, MarketSnapshot, RecoveringGap } from "./pipeline_types.ts";

/** Held trades released per step once a backfill ended. */
const RELEASE_PAGE = 1_000;

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
  /** Backfilling or releasing held trades: live trades go behind, into `#held`. */
  #busy = false;
  #catchUpWanted = false;
  #held: HeldQueue;
  #run: GapRun | null = null;
  #pending = new Set<Promise<void>>();

  constructor(init: MarketPipelineInit) {
    this.#init = init;
    this.name = marketName(init.market);
    this.sequencer = new MarketSequencer(init.adapter.continuity, init.sequencer);
    this.sequencer.seed(init.initialLast);
    this.quarantine = new Quarantine(this.name, init.now, init.rejectLogIntervalMs);
    this.#held = new HeldQueue(this.name, init.recovery ?? null, init.held);
    init.signal.addEventListener("abort", () => this.#held.close(), { once: true });
  }

  /** True while live trades are held for a backfill. */
  get backfilling(): boolean {
    return this.#busy;
  }

  /** Resumes what the last run left: a pending gap (held trades behind it), or held trades. */
  start(): void {
    if (this.#busy || this.#init.signal.aborted) return;
    let pending = null;
    try {
      pending = this.#init.recovery?.pending(this.name) ?? null;
    } catch (e) {
      log.error("feed.pending_gap_unreadable", { market: this.name, error: errorText(e) });
    }
    if (pending) {
      const gap = resumedGap(pending, this.sequencer.last);
      log.info("feed.backfill_resumed", {
        market: this.name,
        afterTradeId: gap.after.tradeId,
        resumeAfter: gap.cursor.tradeId,
        recovered: gap.recovered,
        held: this.#held.size,
      });
      this.#begin(gap);
    } else if (this.#held.size) {
      this.#busy = true;
      this.#track(this.#release());
    }
  }

  /** A fresh connection opened: catch up at once where possible; its first trades may reveal a gap. */
  connectionOpened(): void {
    this.#fresh = true;
    if (!this.#canCatchUp()) return;
    if (this.#busy) this.#catchUpWanted = true;
    else this.#catchUp();
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
    if (!r.trades.length || this.#init.signal.aborted) return;
    const fresh = this.#fresh;
    this.#fresh = false;
    // These trades show what the connection missed, if anything: no catch-up needed for it.
    this.#catchUpWanted = false;
    if (this.#busy) {
      this.#held.push(r.trades, fresh);
      return;
    }
    const a = this.#accept(r.trades, fresh);
    if (a.gap) {
      this.#held.push(a.rest, false);
      this.#begin(this.#gapOf(a, fresh));
    }
  }

  /** Resolves when no backfill is running. */
  async idle(): Promise<void> {
    while (this.#pending.size) await Promise.all([...this.#pending]);
  }

  #canCatchUp(): boolean {
    const { adapter, restBudget } = this.#init;
    return adapter.continuity === "contiguous" && !!adapter.rest && !!restBudget &&
      this.sequencer.last !== null && !this.#init.signal.aborted;
  }

  #catchUp(): void {
    const last = this.sequencer.last!;
    this.#begin(newGap("disconnect", last, this.#init.now()));
  }

  #gapOf(a: AcceptResult, fresh: boolean): ActiveGap {
    const reason = fresh && a.trades.length === 0 ? "disconnect" : "id_gap";
    return newGap(reason, { tradeId: a.gap!.afterTradeId, ts: a.gap!.afterTs }, this.#init.now());
  }

  /** Sequences `raw`, counts what was refused, emits what is new; stops at a gap. */
  #accept(raw: RawTrade[], fresh: boolean, bridge = false): AcceptResult {
    const seq = this.sequencer;
    const before = seq.last;
    const r = seq.accept(raw, { bridge });
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
    return r;
  }

  #begin(gap: ActiveGap): void {
    this.#busy = true;
    const run = new GapRun(gap, this.#held, this.#init, {
      sequencer: this.sequencer,
      // Backfilled: not current news (see Trade.late).
      emit: (trades) => this.#emit(trades.map((t) => ({ ...t, late: true }))),
      rejects: (rejects) => {
        for (const rej of rejects) this.quarantine.add(rej.reason, rej.sample);
      },
    });
    this.#run = run;
    this.#track(
      run.recover().then((end) => {
        this.#run = null;
        if (!end) return; // aborted: the gap stays pending on disk
        if (end.record) this.#report(end.record);
        run.clearPending();
        if (end.bridge) {
          // The held trade that bounded the gap goes next, even if the gap could not be filled.
          const [first] = this.#held.peek(1);
          if (first) {
            this.duplicates += this.#accept([first.trade], false, true).duplicates;
            this.#held.drop(1);
          }
        }
        return this.#release();
      }),
    );
  }

  /** Releases the held trades page by page, in order; a gap among them starts its backfill. */
  async #release(): Promise<void> {
    const signal = this.#init.signal;
    while (this.#held.size && !signal.aborted) {
      const page = this.#held.peek(RELEASE_PAGE);
      if (!page.length) {
        await new Promise((r) => setTimeout(r, 1_000)); // the store is failing: try again
        continue;
      }
      let taken = 0;
      for (let i = 0; i < page.length;) {
        let j = i + 1;
        while (j < page.length && !page[j].fresh) j++;
        const a = this.#accept(page.slice(i, j).map((h) => h.trade), page[i].fresh);
        if (a.gap) {
          this.#held.drop(taken + (j - i) - a.rest.length);
          this.#begin(this.#gapOf(a, page[i].fresh));
          return;
        }
        taken += j - i;
        i = j;
      }
      this.#held.drop(taken);
      await new Promise((r) => setTimeout(r, 0)); // let the core and the sockets run
      await whileBusy(this.#init);
    }
    if (signal.aborted) return;
    this.#busy = false;
    if (this.#catchUpWanted && this.#canCatchUp()) {
      this.#catchUpWanted = false;
      this.#catchUp();
    }
  }

  #track(p: Promise<void>): void {
    const tracked = p
      .catch((e) => log.error("feed.backfill_crashed", { market: this.name, error: errorText(e) }))
      .finally(() => this.#pending.delete(tracked));
    this.#pending.add(tracked);
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
      recovering: this.#run?.progress() ?? null,
      quarantined: { ...this.quarantine.counts },
      duplicates: this.duplicates,
      trades: this.trades,
      clockAdjusted: this.sequencer.clockAdjusted,
      lastTradeId: last?.tradeId ?? null,
      lastTradeTs: last?.ts ?? null,
    };
  }
}
