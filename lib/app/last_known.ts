/**
 * Seeds the feed at start-up with the newest trade each market received, from the journal only:
 * every received trade is committed there before it counts, so the seed is never older than
 * what the primary has, and a restart after `kill -9` always sees (and backfills) the gap. The
 * primary is deliberately not read: its answer races the start and can be empty or stale.
 */

import type { LastTrade } from "../feed/feed.ts";
import type { Journal } from "../store/journal.ts";

/** The newest trade the journal recorded per market (null: none ever). */
export function lastKnownTrades(
  markets: string[],
  journal: Journal,
): Record<string, LastTrade | null> {
  const out: Record<string, LastTrade | null> = {};
  for (const market of markets) {
    const stored = journal.lastTrade(market);
    out[market] = stored && { tradeId: stored.tradeId, ts: stored.ts, id: stored.id };
  }
  return out;
}
