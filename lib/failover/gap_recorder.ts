/**
 * Writes source-gap records to `P:{<market>}:gaps` on the primary Redis, without losing one when
 * the primary is down.
 *
 * Guarantees:
 * - **Stored before sent.** {@link GapRecorder.record} stores the record durably in the
 *   {@link GapStore} (the outbox's SQLite file) before anything else; a record is removed from
 *   there only after the primary acknowledged it. A primary outage, a hung primary or a restart
 *   of btcfeed only delays a record: the next flush (about every `retryMs`, and at start-up)
 *   sends it again.
 * - **Re-sending is harmless.** Each record's entry ID is fixed when it is stored
 *   (`<detectedAtMs>-<seq>`, strictly increasing), and records are sent oldest first, stopping at
 *   the first failure. So when Redis answers that the ID is "equal or smaller than the target
 *   stream top item", the record (or a newer one of the same market, sent after it) is already
 *   there: it counts as written.
 * - **Never blocks ingestion.** `record` is synchronous and only touches local disk; every Redis
 *   command runs in the background with a deadline of `deadlineMs`.
 * - A record Redis refuses for good (e.g. the key holds another type) is logged as an error,
 *   counted in `failed` and removed, so it cannot block the records behind it.
 * - The failover Redis gets one best-effort copy of each record when it is recorded; the primary
 *   is the system of record.
 * - In a feeder group only the writer sends records to the primary: two feeders that saw
 *   different source gaps never both describe the primary's stream.
 * - Gaps are logged by the feed; this module logs only a change of its own state (primary not
 *   answering, answering again) and failures.
 */

import type { RedisClient } from "../redis/client.ts";
import type { GapRecord } from "../domain.ts";
import { log } from "../log.ts";
import { marketKeys } from "../redis/keys.ts";
import { classifyRedisError, describeRedisError, isIdNotAboveTop } from "../redis/errors.ts";
import { Alarm, withDeadline } from "../time.ts";
import { connectIfIdle } from "../redis/client.ts";
import type { GapStore, StoredGap } from "../store/gap_store.ts";
import { errorText } from "../redact.ts";
import { DEFAULT_GAP_RECORDER_OPTIONS, type GapRecorderOptions } from "../defaults.ts";

/** A Redis the recorder writes to. */
export interface GapTarget {
  redis: RedisClient;
  /** Redacted URL, safe to print. */
  url: string;
}

/** What a {@link GapRecorder} writes with. */
export interface GapRecorderDeps {
  store: GapStore;
  primary: GapTarget;
  failover: GapTarget | null;
  /** Key prefix `P`. */
  prefix: string;
  now?: () => number;
  /**
   * In a feeder group, whether this feeder is the writer now: only the writer writes gap
   * records to the primary (a standby's wait, stored, until it writes). @default always
   */
  mayWrite?: () => boolean;
}

export { DEFAULT_GAP_RECORDER_OPTIONS, type GapRecorderOptions };

/** The stream fields of a gap record (the contract in README.md, "Redis keys"). */
export function gapFields(gap: GapRecord): string[] {
  return [
    "reason",
    gap.reason,
    "after_trade_id",
    gap.afterTradeId,
    "before_trade_id",
    gap.beforeTradeId,
    "from_ts",
    String(gap.fromTs),
    "to_ts",
    String(gap.toTs),
    "recovered",
    String(gap.recovered),
    "missing",
    gap.missing === null ? "" : String(gap.missing),
  ];
}

/** Stores gap records durably and flushes them to the primary; see the module comment. */
export class GapRecorder {
  /** Records acknowledged by the primary (including re-sends it already had). */
  written = 0;
  /** Records the primary refused for good (logged). */
  failed = 0;
  /** Records that could not even be stored locally (logged; sent directly, best effort). */
  unstored = 0;
  #deps: GapRecorderDeps;

  /** The counters, as status.json reports them. */
  counts(): { written: number; failed: number; unstored: number } {
    return { written: this.written, failed: this.failed, unstored: this.unstored };
  }
  #options: GapRecorderOptions;
  #now: () => number;
  #flushing: Promise<boolean> | null = null;
  #waiting = false;
  /** Set by `record`, so a record stored during a flush is not left for the long sleep. */
  #dirty = false;
  #alarm = new Alarm();
  #abort = new AbortController();
  #loop: Promise<void> | null = null;

  constructor(deps: GapRecorderDeps, options: Partial<GapRecorderOptions> = {}) {
    this.#deps = deps;
    this.#options = { ...DEFAULT_GAP_RECORDER_OPTIONS, ...options };
    this.#now = deps.now ?? Date.now;
  }

  /** Records waiting for the primary. */
  pending(): number {
    try {
      return this.#deps.store.depth();
    } catch {
      return 0;
    }
  }

  /** Stores `gap` durably and schedules its write. Never throws. */
  record(gap: GapRecord): void {
    let stored: StoredGap;
    try {
      stored = this.#deps.store.append(gap, this.#now());
    } catch (e) {
      this.unstored++;
      log.error("gap record could not be stored locally; writing it to the primary directly", {
        market: gap.market,
        error: errorText(e),
      });
      // Sent once with an ID Redis picks: without a stored row there is nothing to re-send.
      void this.#send(this.#deps.primary, { seq: 0, entryId: "*", gap }).catch(() => {});
      return;
    }
    const failover = this.#deps.failover;
    if (failover) void this.#send(failover, stored).catch(() => {/* best effort */});
    this.#dirty = true;
    this.#alarm.wake();
  }

  /** Starts the background flush loop (which flushes at once). */
  start(): void {
    if (this.#loop) return;
    this.#loop = this.#run(this.#abort.signal);
  }

  /**
   * Sends every stored record to the primary, oldest first, until one fails.
   * Resolves true when none is left waiting.
   */
  flush(): Promise<boolean> {
    this.#flushing ??= this.#flushOnce().finally(() => (this.#flushing = null));
    return this.#flushing;
  }

  /** Stops the loop after one last flush attempt; what is not written stays stored. */
  async close(): Promise<void> {
    this.#abort.abort();
    await this.#loop;
    await this.flush();
  }

  async #run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      this.#dirty = false;
      const empty = await this.flush();
      if (signal.aborted) return;
      if (empty && this.#dirty) continue;
      await this.#alarm.sleep(empty ? 60_000 : this.#options.retryMs, signal);
    }
  }

  async #flushOnce(): Promise<boolean> {
    if (this.#deps.mayWrite && !this.#deps.mayWrite()) return this.pending() === 0;
    for (;;) {
      let batch: StoredGap[];
      try {
        batch = this.#deps.store.peek(100);
      } catch (e) {
        log.error("gap records could not be read", { error: String(e) });
        return false;
      }
      if (!batch.length) return true;
      for (const row of batch) {
        try {
          await this.#send(this.#deps.primary, row);
        } catch (e) {
          if (classifyRedisError(e) !== "fatal") {
            if (!this.#waiting) {
              log.warn("gap records wait for the primary", {
                pending: this.pending(),
                error: describeRedisError(e, this.#deps.primary.url),
              });
            }
            this.#waiting = true;
            return false;
          }
          this.failed++;
          log.error("gap record refused by the primary; dropped", {
            market: row.gap.market,
            id: row.entryId,
            error: describeRedisError(e, this.#deps.primary.url),
          });
        }
        this.#deps.store.remove(row.seq);
        if (this.#waiting) {
          log.info("gap records reach the primary again", { pending: this.pending() });
          this.#waiting = false;
        }
      }
    }
  }

  /** XADD with the record's fixed ID; "equal or smaller than the top item" counts as written. */
  async #send(target: GapTarget, row: StoredGap): Promise<void> {
    const key = marketKeys(this.#deps.prefix, row.gap.market).gaps;
    try {
      const redis = target.redis;
      const write = (async () => {
        // Another caller connecting at the same time is fine: the XADD then tells.
        await connectIfIdle(redis).catch(() => {});
        const maxLen = String(this.#options.maxLen);
        return await redis.xadd(key, "MAXLEN", "~", maxLen, row.entryId, ...gapFields(row.gap));
      })();
      await withDeadline(write, this.#options.deadlineMs, "gap record write");
    } catch (e) {
      if (!isIdNotAboveTop(e)) throw e;
      log.debug("gap record already present", { market: row.gap.market, id: row.entryId });
    }
    if (target === this.#deps.primary) this.written++;
  }
}
