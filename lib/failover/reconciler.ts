/**
 * Reconciliation: the primary checked against the local journal, market by market.
 *
 * A primary can lose writes it acknowledged: restarted without persistence, restored from an
 * older snapshot, a lagging replica promoted. Its stream of a market then ends before the
 * journal's last acknowledged trade. {@link Reconciler.check} compares, per market, the newest
 * entry ID the primary's stream ever had (`XINFO STREAM` last-generated-id; none when the key is
 * gone) with the journal's last acknowledged trade, and when the primary is behind:
 * - rewinds the journal's acknowledgement past what the primary still has, so the retained rows
 *   it lost become pending again and the ordinary replay re-applies them, in order (the apply
 *   script is idempotent, and every rewound entry ID is above the primary's newest, so each one
 *   can be appended);
 * - reports what the journal no longer holds (older than its retention) as a `primary_reset`
 *   gap: exact `missing` for exchanges with contiguous trade ids, unknown otherwise;
 * - counts and logs it; the caller turns it into a health warning until the replay is done.
 *
 * Limit, stated in README: a stream cannot take an entry below its newest one, so a primary
 * that lost trades and then received newer ones from elsewhere before btcfeed looked (no
 * disconnect, no check in between) is repaired only above its newest entry; the rest is counted
 * in the gap record. The periodic check keeps that window short.
 *
 * It only reads the primary; all it changes is the journal's acknowledgement watermark.
 */

import type { RedisClient } from "../redis/client.ts";
import type { GapRecord } from "../domain.ts";
import { compareEntryIds } from "../trade.ts";
import { marketKeys } from "../redis/keys.ts";
import { log } from "../log.ts";
import { withDeadline } from "../time.ts";

/** A journaled trade, as far as reconciliation needs it. */
export interface JournalMark {
  seq: number;
  /** Stream entry ID. */
  id: string;
  tradeId: string;
  ts: number;
}

/** What the reconciler needs of the journal. */
export interface ReconcileJournal {
  /** The newest trade of `market` the primary acknowledged, or null. */
  lastAcked(market: string): JournalMark | null;
  /** The oldest trade of `market` still in the journal (pending or retained), or null. */
  oldestRetained(market: string): JournalMark | null;
  /** Whether retention ever removed a row of `market` (older trades are gone from disk). */
  hasPruned(market: string): boolean;
  /** Makes every row of `market` with an entry ID above `entryId` pending again; how many. */
  rewindAfter(market: string, entryId: string): number;
}

/** One market the primary was found behind on. */
export interface MarketReset {
  market: string;
  /** The primary's newest entry ID for the market, null when its stream is gone. */
  primaryNewest: string | null;
  /** The journal's last acknowledged entry ID before the rewind. */
  journalAcked: string;
  /** Rows made pending again, to be re-applied by the replay. */
  reapplied: number;
  /**
   * The `primary_reset` gap record: from the primary's newest trade to the journal's last
   * acknowledged one; `recovered` re-applied from the journal, `missing` what the journal no
   * longer held (0 when it held everything, exact for contiguous ids, null when unknown).
   */
  gap: GapRecord;
}

export interface ReconcilerDeps {
  redis: RedisClient;
  prefix: string;
  journal: ReconcileJournal;
  /** True for markets whose trade ids increase by exactly one (exact missing counts). */
  contiguous: (market: string) => boolean;
  deadlineMs: number;
}

interface PrimaryNewest {
  id: string;
  tradeId: string | null;
  ts: number | null;
}

export class Reconciler {
  #deps: ReconcilerDeps;

  constructor(deps: ReconcilerDeps) {
    this.#deps = deps;
  }

  /**
   * Checks every market and repairs the journal's view where the primary is behind.
   * @throws when the primary does not answer within the deadline (nothing was changed)
   */
  async check(markets: readonly string[]): Promise<MarketReset[]> {
    const resets: MarketReset[] = [];
    for (const market of markets) {
      const acked = this.#deps.journal.lastAcked(market);
      if (!acked) continue;
      const newest = await this.#primaryNewest(market);
      if (newest && compareEntryIds(newest.id, acked.id) >= 0) continue;
      resets.push(this.#repair(market, acked, newest));
    }
    return resets;
  }

  #repair(market: string, acked: JournalMark, newest: PrimaryNewest | null): MarketReset {
    const journal = this.#deps.journal;
    const reapplied = journal.rewindAfter(market, newest?.id ?? "0-0");
    const oldest = journal.oldestRetained(market);
    const reset: MarketReset = {
      market,
      primaryNewest: newest?.id ?? null,
      journalAcked: acked.id,
      reapplied,
      gap: {
        market,
        reason: "primary_reset",
        afterTradeId: newest?.tradeId ?? "",
        beforeTradeId: acked.tradeId,
        fromTs: newest?.ts ?? 0,
        toTs: acked.ts,
        recovered: reapplied,
        missing: this.#lostBeyondRetention(market, newest, oldest),
      },
    };
    log.error("primary lost trades it had acknowledged: re-applying them from the journal", {
      market,
      primaryNewest: reset.primaryNewest ?? "none (stream gone)",
      journalAcked: acked.id,
      reapplied,
      missingBeyondRetention: reset.gap.missing ?? "unknown",
    });
    return reset;
  }

  /** Trades lost that the journal no longer holds: 0, an exact count, or null (unknown). */
  #lostBeyondRetention(
    market: string,
    newest: PrimaryNewest | null,
    oldest: JournalMark | null,
  ): number | null {
    if (!oldest || !this.#deps.journal.hasPruned(market)) return 0;
    if (newest && compareEntryIds(newest.id, oldest.id) >= 0) return 0; // the rewind covers it
    const after = newest?.tradeId ?? null;
    if (after === null || !this.#deps.contiguous(market)) return null;
    const missing = BigInt(oldest.tradeId) - BigInt(after) - 1n;
    return missing > 0n ? Number(missing) : 0;
  }

  /** The newest entry the market's stream ever had on the primary, or null when it is gone. */
  async #primaryNewest(market: string): Promise<PrimaryNewest | null> {
    const key = marketKeys(this.#deps.prefix, market).trades;
    const redis = this.#deps.redis;
    const [exists, top] = await withDeadline(
      Promise.all([redis.exists(key), redis.xrevrange(key, "+", "-", "COUNT", 1)]),
      this.#deps.deadlineMs,
      "reconciliation read",
    );
    if (!exists) return null;
    const info = await withDeadline(
      redis.xinfo("STREAM", key) as Promise<unknown[]>,
      this.#deps.deadlineMs,
      "reconciliation read",
    );
    const lastGenerated = String(field(info, "last-generated-id") ?? "0-0");
    const [entryId, fields] = top[0] ?? [null, []];
    const value = (name: string) => {
      const i = fields.indexOf(name);
      return i >= 0 && i % 2 === 0 ? fields[i + 1] : null;
    };
    // The newest entry may have been deleted: its trade id is then unknown, its ID still counts.
    const sameEntry = entryId === lastGenerated;
    const ts = sameEntry ? value("ts") : null;
    return {
      id: lastGenerated,
      tradeId: sameEntry ? value("trade_id") : null,
      ts: ts === null ? null : Number(ts),
    };
  }
}

/** A field of a flat `[name, value, ...]` Redis reply. */
function field(reply: unknown[], name: string): unknown {
  for (let i = 0; i + 1 < reply.length; i += 2) if (reply[i] === name) return reply[i + 1];
  return undefined;
}
