/**
 * Which market `btcfeed sync` treats as the one behind `P:btc:last` (private to lib/cli).
 *
 * A sync has no live view of the markets, so it keeps what the primary says: the market
 * `P:btc:last` already names. Only when it names none (a new or emptied primary) does it take the
 * highest-priority configured market among those the replay holds, else the first configured.
 * Its replayed trades then go through the consolidated script, which records them only when they
 * are newer than what `P:btc:last` holds: after the sync it holds that market's newest trade by
 * time in the primary, never an older one.
 */

import type { RedisClient } from "../redis/client.ts";
import { btcLastKey } from "../redis/keys.ts";
import { withDeadline } from "../time.ts";

/** The market whose replayed trades may move `P:btc:last`, or null when there is none. */
export async function syncConsolidatedMarket(
  redis: RedisClient,
  prefix: string,
  priority: readonly string[],
  replayed: readonly string[],
  deadlineMs: number,
): Promise<string | null> {
  const named = await withDeadline(
    redis.hget(btcLastKey(prefix), "market"),
    deadlineMs,
    "P:btc:last read",
  );
  if (named) return named;
  const held = new Set(replayed);
  return priority.find((m) => held.has(m)) ?? priority[0] ?? null;
}
