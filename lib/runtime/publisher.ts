/**
 * Publishes the stream's status to the data directory about once a second, for `health`,
 * `monitor` and `/health`: the core's state, the feed's per-market view and what the
 * {@link MarketTracker} saw, plus each market's trade rate over the last period.
 */

import type { CoreStatus, MarketStatus, StreamStatus } from "./status.ts";
import { writeStatus } from "./status.ts";
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
}

export class StatusPublisher {
  #dataDir: string;
  #sources: PublisherSources;
  #startedAt = Date.now();
  #lastPublish = Date.now();
  #tradesAtLastPublish = new Map<string, number>();
  #rates = new Map<string, number>();
  #failing = false;

  constructor(dataDir: string, sources: PublisherSources) {
    this.#dataDir = dataDir;
    this.#sources = sources;
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
