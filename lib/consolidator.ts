/**
 * Chooses the market behind the consolidated price `P:btc:last`: the highest-priority market
 * that is live, has traded within `freshMs`, and does not stray from the others.
 *
 * A fresh market whose price is more than `maxDeviation` (relative) away from the median of all
 * fresh markets' prices is an outlier: flagged, counted and logged once when it turns one, and
 * left out. The median includes the market itself, so one stray market cannot drag the reference
 * and make the sound ones look like outliers. With fewer than three fresh markets there is no
 * majority to judge by, so nothing is flagged. A market that is no longer fresh loses its flag
 * (it is left out for being stale anyway) and is judged again when it trades.
 *
 * When no market qualifies, the previous choice is kept (or the first market, at start), so
 * `P:btc:last` keeps its last value rather than jumping to an arbitrary source.
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
    const freshNames = new Set(fresh.map(([m]) => m));
    for (const market of this.#outliers) {
      if (!freshNames.has(market)) this.#outliers.delete(market);
    }
    const reference = fresh.length >= 3 ? median(fresh.map(([, v]) => v.price)) : NaN;
    for (const [market, view] of fresh) {
      const outlier = reference > 0 &&
        !(Math.abs(view.price - reference) / reference <= this.#options.maxDeviation);
      if (outlier !== this.#outliers.has(market)) {
        if (outlier) {
          this.#outliers.add(market);
          this.outlierEvents++;
          log.warn("market left out of the consolidated price: it strays from the median", {
            market,
            price: view.price,
            median: reference,
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
