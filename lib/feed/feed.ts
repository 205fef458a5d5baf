/**
 * Runs several markets at once and delivers their trades, sequenced and gap-filled, to one sink.
 *
 * Guarantees:
 * - Per market, the sink receives trades in exchange trade order with strictly increasing entry
 *   IDs and no duplicates; gaps are backfilled or reported, never invented (see
 *   {@link MarketPipeline}). Markets are independent: one blocked, stale or failing market never
 *   stops another.
 * - Every (re)connection of a market with contiguous ids and REST history catches up from its
 *   last trade at once; with a `recovery` store, held trades and pending gaps are on disk and
 *   `start()` resumes what the last run left pending before connecting.
 * - Messages the adapter rejects are counted per market and reason and sampled to the log at most
 *   once per market and reason per `rejectLogIntervalMs`; they never become trades.
 * - The sink and `onGap` can never throw into the feed: their errors (sync or async) are logged.
 * - `close()` resolves when every socket, timer and backfill request of every market is gone.
 */

import type { ExchangeAdapter } from "../exchanges/adapter.ts";
import { log } from "../log.ts";
import { type Market, marketName, type Trade } from "../trade.ts";
import type { BackfillOptions } from "./backfill.ts";
import { type RestBudgetOptions, RestBudgets, type RestBudgetStatus } from "./rest_budget.ts";
import { type Clock, SYSTEM_CLOCK } from "../time.ts";
import { type ConnectionOptions, FeedConnection } from "./connection.ts";
import { type GapRecord, MarketPipeline, type MarketSnapshot } from "./market_pipeline.ts";
import type { LastTrade, SequencerOptions } from "./sequencer.ts";
import type { RecoveryStore } from "./recovery_store.ts";
import { errorText } from "../redact.ts";

export type { GapRecord, MarketSnapshot } from "./market_pipeline.ts";
export type { LastTrade } from "./sequencer.ts";
export type { PendingGap, RecoveryStore } from "./recovery_store.ts";

/** One market to run. */
export interface FeedMarket {
  market: Market;
  adapter: ExchangeAdapter;
  /** WebSocket base URL (the adapter's default or an `--exchange-url` override). */
  wsUrl: string;
  /** REST base URL for backfill (`--rest-url`); defaults to the adapter's. */
  restUrl?: string;
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
  /** Connection timing. @default DEFAULT_CONNECTION_OPTIONS */
  connection?: Partial<ConnectionOptions>;
  /** Backfill limits. @default DEFAULT_BACKFILL_OPTIONS */
  backfill?: Partial<BackfillOptions>;
  /** Share of each exchange's published REST allowance backfills may use. @default DEFAULT_REST_BUDGET_OPTIONS */
  restBudget?: Partial<RestBudgetOptions>;
  /** @default DEFAULT_SEQUENCER_OPTIONS */
  sequencer?: Partial<SequencerOptions>;
  /** Held trades and pending gaps on disk (see {@link MarketPipeline}); absent: in memory. */
  recovery?: RecoveryStore;
  /** True while the sink is behind: backfills and held-trade releases wait. @default never */
  busy?: () => boolean;
  /** Pause between backfill attempts of a pending gap. @default 5_000 */
  retryAttemptMs?: number;
  /** At most one log line per market and reject reason per this interval. @default 10_000 */
  rejectLogIntervalMs?: number;
  /** @default SYSTEM_CLOCK */
  clock?: Clock;
  /** Jitter source in [0, 1). @default Math.random */
  random?: () => number;
}

interface Run {
  pipeline: MarketPipeline;
  conn: FeedConnection;
  lastError: string | null;
}

/** Several markets' feeds behind one sink. */
export class Feed {
  #options: FeedOptions;
  #runs: Run[] = [];
  #abort = new AbortController();
  #started = false;
  #budgets: RestBudgets;

  constructor(options: FeedOptions) {
    this.#options = options;
    const clock = options.clock ?? SYSTEM_CLOCK;
    // One budget per exchange, shared by all its markets' backfills.
    this.#budgets = new RestBudgets(options.restBudget, () => clock.now());
    for (const cfg of options.markets) {
      const name = marketName(cfg.market);
      const run = { lastError: null } as Run;
      run.pipeline = new MarketPipeline({
        market: cfg.market,
        adapter: cfg.adapter,
        restUrl: cfg.restUrl,
        initialLast: options.initialLast?.[name] ?? null,
        emit: (trades) => this.#emit(name, trades),
        onGap: (gap) => this.#gap(gap),
        onError: (message) => (run.lastError = message),
        backfill: options.backfill,
        restBudget: cfg.adapter.rest &&
          this.#budgets.for(cfg.adapter.name, cfg.adapter.rest.limits),
        sequencer: options.sequencer,
        recovery: options.recovery,
        busy: options.busy,
        retryAttemptMs: options.retryAttemptMs,
        rejectLogIntervalMs: options.rejectLogIntervalMs,
        now: () => clock.now(),
        signal: this.#abort.signal,
      });
      run.conn = new FeedConnection({
        market: cfg.market,
        adapter: cfg.adapter,
        wsUrl: cfg.wsUrl,
        options: options.connection,
        clock,
        random: options.random,
        signal: this.#abort.signal,
        seen: (t) => run.pipeline.sequencer.hasSeen(t),
        handlers: {
          onOpen: () => run.pipeline.connectionOpened(),
          onMessage: (r) => run.pipeline.message(r),
          onState: (_state, detail) => {
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
    for (const run of this.#runs) {
      run.pipeline.start();
      run.conn.start();
    }
  }

  /** Per-market state, keyed by market name. */
  snapshot(): Record<string, MarketSnapshot> {
    const out: Record<string, MarketSnapshot> = {};
    for (const { pipeline, conn, lastError } of this.#runs) {
      out[pipeline.name] = pipeline.snapshot({
        state: conn.state === "closed" ? "down" : conn.state,
        reconnects: conn.reconnects,
        handovers: conn.handovers,
        lastError,
      });
    }
    return out;
  }

  /** REST budget state per exchange (rate limits, bans, requests). */
  restStatus(): Record<string, RestBudgetStatus> {
    return this.#budgets.status();
  }

  /** Stops every market; resolves when all sockets, timers and backfills are gone. */
  async close(): Promise<void> {
    this.#abort.abort();
    await Promise.all(this.#runs.map((r) => r.conn.close()));
    await Promise.all(this.#runs.map((r) => r.pipeline.idle()));
  }

  #gap(gap: GapRecord): void {
    try {
      this.#options.onGap?.(gap);
    } catch (e) {
      log.error("feed.gap_handler_failed", { market: gap.market, error: errorText(e) });
    }
  }

  #emit(market: string, trades: Trade[]): void {
    try {
      const p = this.#options.onTrades(trades);
      if (p && typeof (p as Promise<void>).then === "function") {
        (p as Promise<void>).then(undefined, (e) => {
          log.error("feed.sink_failed", { market, error: errorText(e) });
        });
      }
    } catch (e) {
      log.error("feed.sink_failed", { market, error: errorText(e) });
    }
  }
}
