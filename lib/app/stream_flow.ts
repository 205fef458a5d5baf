/** The stream's trade path out of a source, and how a stream run ends. */

import type { Trade } from "../trade.ts";
import type { Consolidator } from "../consolidator.ts";
import type { MarketTracker } from "../runtime/market_tracker.ts";
import type { FailoverCore } from "../failover/core.ts";
import { log } from "../log.ts";
import { errorText } from "../redact.ts";

/**
 * The one trade path out of a source: the price choice, the status view, then the core. Late
 * (backfilled) trades never feed the price choice: an hours-old price received just now is not
 * a fresh one.
 */
export function deliver(
  trades: Trade[],
  consolidator: Consolidator,
  tracker: MarketTracker,
  core: FailoverCore,
): void {
  const newest = trades.findLast((t) => !t.late);
  if (newest) consolidator.observe(newest.market, newest.price, newest.receivedAt);
  tracker.observe(trades);
  core.submit(trades);
}

/** Resolves when `stop` aborts (`stopped`) or a replay ends (`replayed`, or `failed`). */
export function untilEnd(
  replayed: Promise<unknown> | null,
  stop: AbortSignal,
  file: string | null,
): Promise<"stopped" | "replayed" | "failed"> {
  const stopped = new Promise<"stopped">((resolve) => {
    if (stop.aborted) resolve("stopped");
    else stop.addEventListener("abort", () => resolve("stopped"), { once: true });
  });
  if (!replayed) return stopped;
  const finished = replayed.then(() => "replayed" as const, (e) => {
    log.error("replay failed", { file, error: errorText(e) });
    return "failed" as const;
  });
  return Promise.race([stopped, finished]);
}
