/**
 * What a feeder does in `standby` (group mode) besides journaling: it keeps its pending set
 * small by acknowledging the rows the primary already has from the writer, and it takes over
 * when it gets the lease.
 *
 * Guarantees:
 * - {@link StandbyDuty.acknowledge} (about once a second) reads each market's newest entry on the
 *   primary and acknowledges this journal's rows of that market at or below it: the writer wrote
 *   them (entry IDs are deterministic from the trade, so both feeders name a trade alike). A
 *   primary that does not answer changes nothing: the rows stay pending, the feeder keeps
 *   journaling.
 * - {@link StandbyDuty.takeOver} runs in this order, and only then may the core write: every
 *   market's fence is raised to the new epoch (from now on the old writer's writes are refused,
 *   even those already on the wire), then each market's newest entry is read and the rows at or
 *   below it acknowledged. What stays pending is exactly the hand-over window, which the core
 *   replays in journal order: nothing the old writer wrote is written twice out of order, and
 *   nothing it did not write is skipped.
 */

import type { RedisClient } from "../redis/client.ts";
import type { Journal } from "../store/journal.ts";
import type { Mode } from "../domain.ts";
import type { FeederGroup } from "./feeder_group.ts";
import { marketKeys } from "../redis/keys.ts";
import { type MonotonicClock, withDeadline } from "../time.ts";
import { connectIfIdle } from "../redis/client.ts";
import { errorText } from "../redact.ts";

/** What the duty works with. */
export interface StandbyDutyDeps {
  seat: FeederGroup;
  /** The primary's live connection. */
  redis: RedisClient;
  journal: Journal;
  prefix: string;
  markets: readonly string[];
  deadlineMs: number;
  clock: MonotonicClock;
}

/** What the core does after a group turn. */
export type GroupAction =
  | { kind: "none" }
  | { kind: "stepBack"; reason: string }
  | { kind: "takeOver"; epoch: number };

/** Least time between two acknowledgement reads in standby. */
const ACK_INTERVAL_MS = 1_000;

export class StandbyDuty {
  #deps: StandbyDutyDeps;
  #ackedAt = -Infinity;

  constructor(deps: StandbyDutyDeps) {
    this.#deps = deps;
  }

  get seat(): FeederGroup {
    return this.#deps.seat;
  }

  /**
   * One pump turn of group mode in `mode`: writing without the lease -> step back; in standby,
   * acquire when `mayAcquire`, then take over, or else acknowledge what the primary has.
   */
  async turn(mode: Mode, mayAcquire: boolean): Promise<GroupAction> {
    const seat = this.#deps.seat;
    if (mode !== "standby") {
      if (mode === "failover" || seat.holds()) return { kind: "none" };
      return { kind: "stepBack", reason: seat.lostReason };
    }
    if (!seat.holds() && mayAcquire) await seat.tryAcquire();
    if (!seat.holds()) {
      await this.acknowledge();
      return { kind: "none" };
    }
    const epoch = seat.epoch();
    return (await this.takeOver()) ? { kind: "takeOver", epoch } : { kind: "none" };
  }

  /** When due, acknowledges the rows the primary already has; how many. Never throws. */
  async acknowledge(): Promise<number> {
    if (this.#deps.clock() - this.#ackedAt < ACK_INTERVAL_MS) return 0;
    this.#ackedAt = this.#deps.clock();
    try {
      return await this.#ackWhatPrimaryHas();
    } catch {
      return 0; // the primary is away: the rows stay pending, journaling goes on
    }
  }

  /**
   * Fences, then acknowledges what the primary has. True when the core may replay and write;
   * false when the seat was lost or the primary failed (the seat then stepped back).
   */
  async takeOver(): Promise<boolean> {
    const seat = this.#deps.seat;
    const epoch = seat.epoch();
    try {
      if (!(await seat.raiseFences(this.#deps.markets))) return false;
      await this.#ackWhatPrimaryHas();
    } catch (e) {
      seat.stepBack(`takeover failed: ${errorText(e)}`, true);
      return false;
    }
    return seat.holds() && seat.epoch() === epoch;
  }

  async #ackWhatPrimaryHas(): Promise<number> {
    const { redis, prefix, markets, journal, deadlineMs } = this.#deps;
    const replies = await withDeadline(
      (async () => {
        await connectIfIdle(redis).catch(() => {});
        // One command per market, sent together: on a cluster the markets are in different slots.
        const newest = (m: string) =>
          redis.xrevrange(marketKeys(prefix, m).trades, "+", "-", "COUNT", 1);
        return await Promise.all(markets.map(newest));
      })(),
      deadlineMs,
      "newest entries read",
    );
    let acked = 0;
    markets.forEach((market, i) => {
      const newest = replies[i][0]?.[0];
      if (newest) acked += journal.ackThrough(market, newest);
    });
    return acked;
  }
}
