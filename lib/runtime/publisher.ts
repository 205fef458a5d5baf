/**
 * Publishes the stream's status to the data directory about once a second, for `health`,
 * `monitor` and `/health`. Tracks what only the stream sees: each market's last trade, rate and
 * recent price history.
 */

import type { Trade } from "../trade.ts";
import type { MarketStatus, StreamStatus } from "./status.ts";
import { writeStatus } from "./status.ts";
import type { FailoverCore } from "../failover/core.ts";
import { log } from "../log.ts";

/** What the feed reports per market. */
export type FeedMarketView = Pick<
  MarketStatus,
  "state" | "reconnects" | "gaps" | "gapsBackfilled" | "quarantined" | "lastError"
>;

export interface PublisherSources {
  core: FailoverCore;
  feed: () => Record<string, FeedMarketView>;
  consolidated: () => string | null;
  isOutlier: (market: string) => boolean;
}

const HISTORY_POINTS = 60;
const HISTORY_STEP_MS = 5_000;

interface Tracked {
  last: MarketStatus["last"];
  trades: number;
  tradesAtLastPublish: number;
  history: [number, string][];
}

export class StatusPublisher {
  #dataDir: string;
  #sources: PublisherSources;
  #startedAt = Date.now();
  #lastPublish = Date.now();
  #markets = new Map<string, Tracked>();
  #rates = new Map<string, number>();
  #failing = false;

  constructor(dataDir: string, markets: string[], sources: PublisherSources) {
    this.#dataDir = dataDir;
    this.#sources = sources;
    for (const m of markets) {
      this.#markets.set(m, { last: null, trades: 0, tradesAtLastPublish: 0, history: [] });
    }
  }

  /** Records trades as they are accepted (in order per market). */
  observe(trades: Trade[]): void {
    for (const t of trades) {
      const m = this.#markets.get(t.market);
      if (!m) continue;
      m.trades++;
      m.last = {
        price: t.price,
        size: t.size,
        side: t.side,
        tradeId: t.tradeId,
        ts: t.ts,
        receivedAt: t.receivedAt,
      };
      const newest = m.history[m.history.length - 1];
      if (!newest || t.ts - newest[0] >= HISTORY_STEP_MS) {
        m.history.push([t.ts, t.price]);
        if (m.history.length > HISTORY_POINTS) m.history.shift();
      }
    }
  }

  snapshot(now = Date.now()): StreamStatus {
    const feed = this.#sources.feed();
    const markets: Record<string, MarketStatus> = {};
    for (const [name, m] of this.#markets) {
      const f = feed[name];
      markets[name] = {
        state: f?.state ?? "connecting",
        last: m.last,
        trades: m.trades,
        tradeRate: this.#rates.get(name) ?? 0,
        reconnects: f?.reconnects ?? 0,
        gaps: f?.gaps ?? 0,
        gapsBackfilled: f?.gapsBackfilled ?? 0,
        quarantined: f?.quarantined ?? {},
        outlier: this.#sources.isOutlier(name),
        history: [...m.history],
        lastError: f?.lastError ?? null,
      };
    }
    return {
      version: 1,
      pid: Deno.pid,
      startedAt: this.#startedAt,
      heartbeatAt: now,
      ...this.#sources.core.status(),
      markets,
      consolidatedMarket: this.#sources.consolidated(),
    };
  }

  /** Writes the snapshot; a failure is logged once, never thrown. */
  publish(now = Date.now()): void {
    const seconds = Math.max((now - this.#lastPublish) / 1000, 0.001);
    for (const [name, m] of this.#markets) {
      this.#rates.set(name, Math.round((m.trades - m.tradesAtLastPublish) / seconds * 10) / 10);
      m.tradesAtLastPublish = m.trades;
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
          error: e instanceof Error ? e.message : String(e),
        });
      }
      this.#failing = true;
    }
  }
}
