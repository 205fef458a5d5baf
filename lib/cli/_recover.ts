/**
 * `btcfeed sync --recover` (private to lib/cli; sync.ts wires it): opens the live store and
 * salvages every store file moved aside as corrupt into it, printing what came back.
 */

import type { Config } from "../config.ts";
import { openStores, openStoresSettingAside, type Stores } from "../app/factories.ts";
import { salvageAll, type SalvageResult } from "../store/salvage.ts";
import { takeStreamLock } from "../runtime/stream_lock.ts";

/**
 * Opens the live store and salvages the moved-aside files into it. Without a running stream,
 * takes the stream lock while it does (so it may also move a corrupt live store aside first).
 */
export function recover(
  config: Config,
  json: boolean,
): { stores: Stores; recovered: SalvageResult[] } {
  Deno.mkdirSync(config.dataDir, { recursive: true });
  let unlock: (() => void) | null = null;
  try {
    unlock = takeStreamLock(config.dataDir);
  } catch { /* a stream runs: it has already moved a corrupt store aside */ }
  try {
    const stores = unlock ? openStoresSettingAside(config).stores : openStores(config);
    try {
      // Held trades and pending gaps go back only when no stream runs on the live store.
      const recovered = salvageAll(config.dataDir, stores, unlock !== null);
      if (!json) {
        if (recovered.length === 0) console.log("no store file moved aside: nothing to recover");
        for (const r of recovered) {
          console.log(
            `recovered ${r.trades} trades (${r.unreadable} unreadable, ${r.refused} refused) ` +
              `and ${r.gapRecords} gap records from ${r.file}; it is now ${r.renamedTo}`,
          );
          console.log(recoveryLine(r));
        }
      }
      return { stores, recovered };
    } catch (e) {
      stores.close();
      throw e;
    }
  } finally {
    unlock?.();
  }
}

/** What came back of gap recovery's state, and what a running stream had superseded. */
function recoveryLine(r: SalvageResult): string {
  const superseded = r.heldSuperseded + r.pendingGapsSuperseded
    ? `; superseded (a stream already streamed their market): ${r.heldSuperseded} held trades, ` +
      `${r.pendingGapsSuperseded} pending gaps (${r.pendingGapsRecorded} recorded as gaps)`
    : "";
  return `  restored ${r.heldTrades} held trades (${r.heldUnreadable} unreadable) and ` +
    `${r.pendingGaps} pending gaps, resumed by the next btcfeed stream${superseded}`;
}
