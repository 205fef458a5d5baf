/**
 * Runs several markets at once and delivers their trades, sequenced and gap-filled, to one sink.
 *
 * Guarantees:
 * - Per market, the sink receives trades in exchange trade order with strictly increasing entry
 *   IDs and no duplicates (see {@link MarketSequencer}); markets are independent: one blocked,
 *   stale or failing market never stops another.
 * - Gaps are recovered, never invented. On an id gap (or, for contiguous exchanges, a first trade
 *   after a reconnect or restart beyond last + 1) the market's live trades are held, the missing
 *   range is fetched over REST, and the sink gets the backfilled trades, then the held ones. Every
 *   gap is reported once through `onGap` with how many trades were recovered and how many are
 *   still missing. For exchanges without id continuity the disconnect window is reported with
 *   `missing: null`: nothing is fetched or made up.
 * - Held trades are bounded by the backfill's own bounds (`maxBackfillTrades`, one timeout per
 *   request); they are never dropped.
 * - Messages the adapter rejects are counted per market and reason and sampled to the log at most
 *   once per market and reason per `rejectLogIntervalMs`; they never become trades.
 * - The sink and `onGap` can never throw into the feed: their errors (sync or async) are logged.
 * - `close()` resolves when every socket, timer and backfill request of every market is gone.
 */

import type { ExchangeAdapter, ParseResult, RejectReason } from "../exchanges/adapter.ts";
import { log } from "../log.ts";
import { type Market, marketName, type RawTrade, type Trade } from "../trade.ts";
import { backfill, type BackfillOptions, type BackfillResult } from "./backfill.ts";
import { type Clock, SYSTEM_CLOCK } from "./clock.ts";
import { type ConnectionOptions, type ConnectionState, FeedConnection } from "./connection.ts";
import {
  type LastTrade,
  MarketSequencer,
  type SequenceGap,
  type SequencerOptions,
} from "./sequencer.ts";
import { errorText } from "./_redact.ts";

/** One market to run. */
export interface FeedMarket {
  market: Market;
  adapter: ExchangeAdapter;
  /** WebSocket base URL (the adapter's default or an `--exchange-url` override). */
  wsUrl: string;
  /** REST base URL for backfill (`--rest-url`); defaults to the adapter's. */
  restUrl?: string;
}

/** A detected gap in a market's trades, reported once its recovery attempt ended. */
export interface GapRecord {
  market: string;
  /** `id_gap`: ids jumped on a live connection; `disconnect`: across a reconnect or restart. */
  reason: "id_gap" | "disconnect";
  /** Last trade before the gap. */
  afterTradeId: string;
  /** First trade after the gap. */
  beforeTradeId: string;
  /** Time of the last trade before the gap (ms). */
  fromTs: number;
  /** Time of the first trade after the gap (ms). */
  toTs: number;
  /** Trades fetched from history and delivered. */
  recovered: number;
  /** Trades still missing; null when the exchange gives no way to know. */
  missing: number | null;
}

/** A market's state in {@link Feed.snapshot}. */
export interface MarketSnapshot {
  state: "connecting" | "live" | "down" | "blocked";
  reconnects: number;
  handovers: number;
  gaps: number;
  /** Gaps whose trades were all recovered. */
  gapsBackfilled: number;
  backfilling: boolean;
  quarantined: Partial<Record<RejectReason, number>>;
  lastError: string | null;
  duplicates: number;
  trades: number;
  clockAdjusted: number;
  lastTradeId: string | null;
  lastTradeTs: number | null;
}

/** Configuration of a {@link Feed}. */
export interface FeedOptions {
  markets: FeedMarket[];
  /** What storage holds per market name, so a restart neither duplicates nor misses. */
  initialLast?: Record<string, LastTrade | null>;
  /** Receives each market's trades in order. Must not block; errors are logged, not thrown. */
  onTrades: (trades: Trade[]) => void | Promise<void>;
  /** Receives every gap once its recovery ended (recovered or not). */
  onGap?: (gap: GapRecord) => void;
  connection?: Partial<ConnectionOptions>;
  backfill?: Partial<BackfillOptions>;
  sequencer?: Partial<SequencerOptions>;
  /** At most one log line per market and reject reason per this interval. @default 10_000 */
  rejectLogIntervalMs?: number;
  clock?: Clock;
  random?: () => number;
}

interface Held {
  trades: RawTrade[];
  fresh: boolean;
}

interface Run {
  name: string;
  cfg: FeedMarket;
  seq: MarketSequencer;
  conn: FeedConnection;
  fresh: boolean;
  backfilling: boolean;
  held: Held[];
  gaps: number;
  gapsBackfilled: number;
  duplicates: number;
  trades: number;
  quarantined: Partial<Record<RejectReason, number>>;
  lastError: string | null;
  loggedAt: Map<string, number>;
}

/** Several markets' feeds behind one sink. */
export class Feed {
  #options: FeedOptions;
  #clock: Clock;
  #runs: Run[] = [];
  #abort = new AbortController();
  #pending = new Set<Promise<void>>();
  #started = false;

  constructor(options: FeedOptions) {
    this.#options = options;
    this.#clock = options.clock ?? SYSTEM_CLOCK;
    for (const cfg of options.markets) {
      const name = marketName(cfg.market);
      const seq = new MarketSequencer(cfg.adapter.continuity, options.sequencer);
      seq.seed(options.initialLast?.[name] ?? null);
      const run = {
        name,
        cfg,
        seq,
        fresh: false,
        backfilling: false,
        held: [],
        gaps: 0,
        gapsBackfilled: 0,
        duplicates: 0,
        trades: 0,
        quarantined: {},
        lastError: null,
        loggedAt: new Map(),
      } as Omit<Run, "conn"> as Run;
      run.conn = new FeedConnection({
        market: cfg.market,
        adapter: cfg.adapter,
        wsUrl: cfg.wsUrl,
        options: options.connection,
        clock: this.#clock,
        random: options.random,
        signal: this.#abort.signal,
        seen: (t) => seq.hasSeen(t),
        handlers: {
          onOpen: () => {
            run.fresh = true;
          },
          onMessage: (r) => this.#onMessage(run, r),
          onState: (_s, detail) => {
            if (detail) run.lastError = detail;
          },
        },
      });
      this.#runs.push(run);
    }
  }

  /** Connects every market. */
  start(): void {
    if (this.#started || this.#abort.signal.aborted) return;
    this.#started = true;
    for (const run of this.#runs) run.conn.start();
  }

  /** Per-market state, keyed by market name. */
  snapshot(): Record<string, MarketSnapshot> {
    const out: Record<string, MarketSnapshot> = {};
    for (const r of this.#runs) {
      const s: ConnectionState = r.conn.state;
      out[r.name] = {
        state: s === "closed" ? "down" : s,
        reconnects: r.conn.reconnects,
        handovers: r.conn.handovers,
        gaps: r.gaps,
        gapsBackfilled: r.gapsBackfilled,
        backfilling: r.backfilling,
        quarantined: { ...r.quarantined },
        lastError: r.lastError,
        duplicates: r.duplicates,
        trades: r.trades,
        clockAdjusted: r.seq.clockAdjusted,
        lastTradeId: r.seq.last?.tradeId ?? null,
        lastTradeTs: r.seq.last?.ts ?? null,
      };
    }
    return out;
  }

  /** Stops every market; resolves when all sockets, timers and backfills are gone. */
  async close(): Promise<void> {
    this.#abort.abort();
    await Promise.all(this.#runs.map((r) => r.conn.close()));
    while (this.#pending.size) await Promise.all([...this.#pending]);
  }

  #onMessage(run: Run, r: ParseResult): void {
    for (const rej of r.rejects) this.#quarantine(run, rej.reason, rej.sample);
    for (const e of r.events) {
      if (e.kind === "error") {
        run.lastError = e.message;
        this.#sampled(run, "exchange_error", () => {
          log.warn("feed.exchange_error", { market: run.name, message: e.message });
        });
      } else if (e.kind === "status") {
        log.info("feed.exchange_status", { market: run.name, status: e.status });
      }
    }
    if (!r.trades.length) return;
    const fresh = run.fresh;
    run.fresh = false;
    this.#ingest(run, r.trades, fresh);
  }

  #ingest(run: Run, raw: RawTrade[], fresh: boolean): void {
    if (!raw.length || this.#abort.signal.aborted) return;
    if (run.backfilling) {
      run.held.push({ trades: raw, fresh });
      return;
    }
    const before = run.seq.last;
    const r = run.seq.accept(raw);
    run.duplicates += r.duplicates;
    for (let i = 0; i < r.invalid; i++) this.#quarantine(run, "bad_trade_id", "");
    if (run.seq.continuity === "none" && fresh && before && r.trades.length && !r.duplicates) {
      const first = r.trades[0];
      this.#reportGap(run, {
        market: run.name,
        reason: "disconnect",
        afterTradeId: before.tradeId,
        beforeTradeId: first.tradeId,
        fromTs: before.ts,
        toTs: first.ts,
        recovered: 0,
        missing: null,
      });
    }
    this.#emit(run, r.trades);
    if (r.gap) {
      const reason = fresh && r.trades.length === 0 ? "disconnect" : "id_gap";
      this.#backfill(run, r.gap, reason, r.rest);
    }
  }

  #backfill(run: Run, gap: SequenceGap, reason: GapRecord["reason"], rest: RawTrade[]): void {
    run.backfilling = true;
    run.held = [{ trades: rest, fresh: false }];
    if (!run.cfg.adapter.rest) {
      const none = { trades: [], closed: false, pages: 0, rejects: [], error: "no REST history" };
      this.#finishBackfill(run, gap, reason, none);
      return;
    }
    log.info("feed.backfill_started", {
      market: run.name,
      reason,
      afterTradeId: gap.afterTradeId,
      beforeTradeId: gap.beforeTradeId,
    });
    const target = { adapter: run.cfg.adapter, market: run.cfg.market, restUrl: run.cfg.restUrl };
    const p = backfill(target, gap, this.#options.backfill, this.#abort.signal, this.#clock.now)
      .then((result) => this.#finishBackfill(run, gap, reason, result))
      .catch((e) => log.error("feed.backfill_crashed", { market: run.name, error: errorText(e) }))
      .finally(() => this.#pending.delete(p));
    this.#pending.add(p);
  }

  #finishBackfill(
    run: Run,
    gap: SequenceGap,
    reason: GapRecord["reason"],
    result: BackfillResult,
  ): void {
    if (this.#abort.signal.aborted) return;
    for (const rej of result.rejects) this.#quarantine(run, rej.reason, rej.sample);
    const filled = run.seq.accept(result.trades, { bridge: true });
    this.#emit(run, filled.trades);
    const expected = BigInt(gap.beforeTradeId) - BigInt(gap.afterTradeId) - 1n;
    const recovered = filled.trades.length;
    const missingBig = expected - BigInt(recovered);
    const missing = missingBig > 0n ? Number(missingBig) : 0;
    if (missing > 0 && result.error) {
      log.warn("feed.backfill_incomplete", { market: run.name, error: result.error });
    }
    this.#reportGap(run, {
      market: run.name,
      reason,
      afterTradeId: gap.afterTradeId,
      beforeTradeId: gap.beforeTradeId,
      fromTs: gap.afterTs,
      toTs: gap.beforeTs,
      recovered,
      missing,
    });
    const held = run.held;
    run.held = [];
    run.backfilling = false;
    // The trade that revealed the gap goes next, even if the gap could not be (fully) filled.
    const [first, ...later] = held;
    const bridged = run.seq.accept(first.trades.slice(0, 1), { bridge: true });
    run.duplicates += bridged.duplicates;
    this.#emit(run, bridged.trades);
    this.#ingest(run, first.trades.slice(1), false);
    for (const h of later) this.#ingest(run, h.trades, h.fresh);
  }

  #reportGap(run: Run, gap: GapRecord): void {
    run.gaps++;
    if (gap.missing === 0) run.gapsBackfilled++;
    const level = gap.missing === 0 ? "info" : "warn";
    log[level]("feed.gap", { ...gap });
    try {
      this.#options.onGap?.(gap);
    } catch (e) {
      log.error("feed.gap_handler_failed", { market: run.name, error: errorText(e) });
    }
  }

  #emit(run: Run, trades: Trade[]): void {
    if (!trades.length) return;
    run.trades += trades.length;
    try {
      const p = this.#options.onTrades(trades);
      if (p && typeof (p as Promise<void>).then === "function") {
        (p as Promise<void>).then(undefined, (e) => {
          log.error("feed.sink_failed", { market: run.name, error: errorText(e) });
        });
      }
    } catch (e) {
      log.error("feed.sink_failed", { market: run.name, error: errorText(e) });
    }
  }

  #quarantine(run: Run, reason: RejectReason, sample: string): void {
    const n = (run.quarantined[reason] ?? 0) + 1;
    run.quarantined[reason] = n;
    this.#sampled(run, reason, () => {
      log.warn("feed.quarantined", { market: run.name, reason, total: n, sample });
    });
  }

  /** Runs `fn` unless it ran for this market and key within `rejectLogIntervalMs`. */
  #sampled(run: Run, key: string, fn: () => void): void {
    const now = this.#clock.now();
    const interval = this.#options.rejectLogIntervalMs ?? 10_000;
    const at = run.loggedAt.get(key);
    if (at !== undefined && now - at < interval) return;
    run.loggedAt.set(key, now);
    fn();
  }
}
