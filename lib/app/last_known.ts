/** Seeds the feed at start-up with the newest trade storage already holds per market. */

import type { Config } from "../config.ts";
import type { LastTrade } from "../feed/feed.ts";
import type { Outbox } from "../store/outbox.ts";
import type { RedisTarget } from "../failover/targets.ts";
import { withDeadline } from "../time.ts";
import { marketKeys } from "../redis/keys.ts";
import { compareEntryIds } from "../trade.ts";

/**
 * The newest trade each market already has, from the outbox or the primary (when it answered),
 * whichever is newer; so a restart neither duplicates nor misses.
 */
export async function lastKnownTrades(
  markets: string[],
  outbox: Outbox,
  primary: RedisTarget | null,
  config: Pick<Config, "prefix" | "deadlineMs">,
): Promise<Record<string, LastTrade | null>> {
  const out: Record<string, LastTrade | null> = {};
  for (const market of markets) {
    const stored = outbox.lastTrade(market);
    let best: LastTrade | null = stored &&
      { tradeId: stored.tradeId, ts: stored.ts, id: stored.id };
    if (primary) {
      try {
        const h = await withDeadline(
          primary.redis.hgetall(marketKeys(config.prefix, market).last),
          config.deadlineMs,
          "primary read",
        );
        if (h.id && (!best || compareEntryIds(h.id, best.id) > 0)) {
          best = { tradeId: h.trade_id, ts: Number(h.ts), id: h.id };
        }
      } catch { /* the outbox view is enough to avoid duplicates; backfill covers the rest */ }
    }
    out[market] = best;
  }
  return out;
}
