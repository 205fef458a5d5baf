/**
 * Chooses the market behind the consolidated price `P:btc:last`: the highest-priority market
 * that is live, has traded recently, and does not stray from the others' median.
 *
 * A market whose price is more than `maxDeviation` away from the median of the other markets'
 * fresh prices is an outlier: flagged, counted and logged once, and left out. With fewer than two
 * other fresh markets there is no median to compare with, so nothing is flagged.
 */

import { log } from "./log.ts";

export interface ConsolidatorOptions {
  /** A market that has not traded for this long is not a candidate. @default 60_000 */
  freshMs: number;
  /** Relative distance from the median that makes a market an outlier. @default 0.05 */
  maxDeviation: number;
}

export const DEFAULT_CONSOLIDATOR_OPTIONS: ConsolidatorOptions = {
  freshMs: 60_000,
  maxDeviation: 0.05,
};

interface MarketView {
  price: number;
  receivedAt: number;
  live: boolean;
}

export class Consolidator {
  #priority: string[];
  #options: ConsolidatorOptions;
  #views = new Map<string, MarketView>();
  #outliers = new Set<string>();
  #chosen: string | null = null;
  outlierEvents = 0;

  constructor(priority: string[], options: Partial<ConsolidatorOptions> = {}) {
    this.#priority = priority;
    this.#options = { ...DEFAULT_CONSOLIDATOR_OPTIONS, ...options };
  }

  /** Records a market's newest price (decimal text) and whether its connection is live. */
  observe(market: string, price: string, receivedAt: number): void {
    this.#views.set(market, { price: Number(price), receivedAt, live: true });
  }

  setLive(market: string, live: boolean): void {
    const view = this.#views.get(market);
    if (view) view.live = live;
  }

  isOutlier(market: string): boolean {
    return this.#outliers.has(market);
  }

  /** The market feeding the consolidated price now; recomputed from `now`. */
  choose(now: number): string | null {
    const fresh = [...this.#views].filter(([, v]) =>
      v.live && now - v.receivedAt <= this.#options.freshMs
    );
    for (const [market, view] of fresh) {
      const others = fresh.filter(([m]) => m !== market).map(([, v]) => v.price);
      const outlier = others.length >= 2 &&
        Math.abs(view.price - median(others)) / median(others) > this.#options.maxDeviation;
      if (outlier !== this.#outliers.has(market)) {
        if (outlier) {
          this.#outliers.add(market);
          this.outlierEvents++;
          log.warn("market left out of the consolidated price: it strays from the median", {
            market,
            price: view.price,
            median: median(others),
          });
        } else {
          this.#outliers.delete(market);
          log.info("market back in the consolidated price", { market });
        }
      }
    }
    const candidates = new Set(fresh.map(([m]) => m).filter((m) => !this.#outliers.has(m)));
    const chosen = this.#priority.find((m) => candidates.has(m)) ??
      (this.#chosen && this.#views.has(this.#chosen) ? this.#chosen : this.#priority[0]);
    if (chosen !== this.#chosen) {
      log.info("consolidated price source", { from: this.#chosen, to: chosen });
      this.#chosen = chosen;
    }
    return chosen;
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}
