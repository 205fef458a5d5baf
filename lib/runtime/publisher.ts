/**
 * Publishes the stream's status to the data directory about once a second, for `health`,
 * `monitor` and `/health`: the core's state, the feed's per-market view and what the
 * {@link MarketTracker} saw, plus each market's trade rate over the last period.
 */

import type { CoreStatus, MarketStatus, StreamStatus } from "./status.ts";
import { readStatus, writeStatus } from "./status.ts";
import type { MarketTracker } from "./market_tracker.ts";
import { log } from "../log.ts";
import { errorText } from "../redact.ts";

/** What the feed reports per market. */
export type FeedMarketView = Pick<
  MarketStatus,
  | "state"
  | "reconnects"
  | "handovers"
  | "duplicates"
  | "clockAdjusted"
  | "gaps"
  | "gapsBackfilled"
  | "recovering"
  | "quarantined"
  | "lastError"
>;

/** Where the publisher reads the status from. */
export interface PublisherSources {
  core: () => CoreStatus;
  tracker: MarketTracker;
  feed: () => Record<string, FeedMarketView>;
  consolidated: () => string | null;
  isOutlier: (market: string) => boolean;
  /** Outlier events so far (`Consolidator.outlierEvents`). */
  outlierEvents: () => number;
  /** The gap recorder's counters. */
  gapRecords: () => StreamStatus["gapRecords"];
  /** REST budget per exchange, when the source fetches over REST. */
  rest?: () => NonNullable<StreamStatus["rest"]>;
  /** Store files moved aside as corrupt, not yet salvaged. */
  storeSetAside: () => string[];
}

/**
 * The cumulative dropped count the previous run's status left in `dataDir` (read before this
 * run overwrites it); 0 when there is none or it cannot be read (only that count is lost then).
 */
export function droppedBefore(dataDir: string): number {
  try {
    const previous = readStatus(dataDir);
    return previous?.droppedTotal ?? previous?.counters?.dropped ?? 0;
  } catch {
    return 0;
  }
}

/** What a run carries over from earlier runs on the same data directory. */
export interface CarriedOver {
  /** Trades earlier runs dropped ({@link droppedBefore}). @default 0 */
  droppedBefore: number;
  /** Recent start times, this run's last (lib/runtime/start_history.ts). @default [] */
  starts: number[];
}

export class StatusPublisher {
  #dataDir: string;
  #sources: PublisherSources;
  #startedAt = Date.now();
  #lastPublish = Date.now();
  #tradesAtLastPublish = new Map<string, number>();
  #rates = new Map<string, number>();
  #failing = false;
  #carried: CarriedOver;
  #stopped: StreamStatus["stopped"] = null;

  constructor(dataDir: string, sources: PublisherSources, carried: Partial<CarriedOver> = {}) {
    this.#dataDir = dataDir;
    this.#sources = sources;
    this.#carried = { droppedBefore: 0, starts: [], ...carried };
  }

  /** Marks the status stopped (a clean stop); the next {@link publish} says so. */
  markStopped(reason: string, now = Date.now()): void {
    this.#stopped = { at: now, reason };
  }

  snapshot(now = Date.now()): StreamStatus {
    const feed = this.#sources.feed();
    const markets: Record<string, MarketStatus> = {};
    for (const [name, m] of this.#sources.tracker.markets()) {
      const f = feed[name];
      markets[name] = {
        state: f?.state ?? "connecting",
        last: m.last,
        trades: m.trades,
        tradeRate: this.#rates.get(name) ?? 0,
        reconnects: f?.reconnects ?? 0,
        handovers: f?.handovers ?? 0,
        duplicates: f?.duplicates ?? 0,
        clockAdjusted: f?.clockAdjusted ?? 0,
        gaps: f?.gaps ?? 0,
        gapsBackfilled: f?.gapsBackfilled ?? 0,
        recovering: f?.recovering ?? null,
        quarantined: f?.quarantined ?? {},
        outlier: this.#sources.isOutlier(name),
        history: [...m.history],
        lastError: f?.lastError ?? null,
      };
    }
    const core = this.#sources.core();
    return {
      version: 1,
      pid: Deno.pid,
      startedAt: this.#startedAt,
      heartbeatAt: now,
      ...core,
      counters: { ...core.counters, outlierEvents: this.#sources.outlierEvents() },
      gapRecords: this.#sources.gapRecords(),
      markets,
      ...(this.#sources.rest ? { rest: this.#sources.rest() } : {}),
      consolidatedMarket: this.#sources.consolidated(),
      stopped: this.#stopped,
      droppedTotal: this.#carried.droppedBefore + core.counters.dropped,
      starts: this.#carried.starts,
      storeSetAside: this.#sources.storeSetAside(),
    };
  }

  /** Writes the snapshot; a failure is logged once, never thrown. */
  publish(now = Date.now()): void {
    const seconds = Math.max((now - this.#lastPublish) / 1000, 0.001);
    for (const [name, m] of this.#sources.tracker.markets()) {
      const before = this.#tradesAtLastPublish.get(name) ?? 0;
      this.#rates.set(name, Math.round((m.trades - before) / seconds * 10) / 10);
      this.#tradesAtLastPublish.set(name, m.trades);
    }
    this.#lastPublish = now;
    try {
      writeStatus(this.#dataDir, this.snapshot(now));
      if (this.#failing) log.info("status file writable again", { dir: this.#dataDir });
      this.#failing = false;
    } catch (e) {
      if (!this.#failing) {
        log.error("cannot write the status file: health will report the stream as down", {
          dir: this.#dataDir,
          error: errorText(e),
        });
      }
      this.#failing = true;
    }
  }
}
