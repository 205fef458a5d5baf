/**
 * What only the stream sees of each market, for its status: the last accepted trade, how many
 * were accepted, and a short price history (one point every few seconds). A trade sink: it is
 * fed the same batches as the core, in order per market, and never throws.
 */

import type { Trade } from "../trade.ts";
import type { MarketStatus } from "./status.ts";

const HISTORY_POINTS = 60;
const HISTORY_STEP_MS = 5_000;

/** One market as tracked. */
export interface TrackedMarket {
  last: MarketStatus["last"];
  trades: number;
  history: [number, string][];
}

export class MarketTracker {
  #markets = new Map<string, TrackedMarket>();

  constructor(markets: string[]) {
    for (const m of markets) this.#markets.set(m, { last: null, trades: 0, history: [] });
  }

  /** Records trades as they are accepted (in order per market); unknown markets are ignored. */
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

  /** The tracked markets, in the order given at construction. */
  markets(): ReadonlyMap<string, Readonly<TrackedMarket>> {
    return this.#markets;
  }
}
