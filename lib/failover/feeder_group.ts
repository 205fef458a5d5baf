/**
 * This feeder's seat in a feeder group (`--group`): whether it holds the writer lease, with
 * which fencing epoch, and the group view (who writes, which feeders are live for which market).
 *
 * Guarantees:
 * - {@link FeederGroup.holds} is true only while the lease is ours by our own clock too: a
 *   renewal is due every `leaseMs / 3`, and a lease not renewed within `leaseMs` of the last
 *   renewal *sent* counts as lost, even before the primary says so (a process that was paused
 *   wakes up as a standby). Writes stay safe regardless: they carry the epoch and the fences
 *   refuse a stale one (writer_lease.ts).
 * - Losing the lease — a failed or refused renewal, a fenced write, a failed write — is one
 *   call, {@link FeederGroup.stepBack}, which logs once (with the reason) and is idempotent; the
 *   core then steps back to standby and keeps journaling.
 * - Acquisition is asked for by the core ({@link FeederGroup.tryAcquire}) only when it may
 *   write (not forced, the primary healthy for the hold-down), so a feeder with a bad link does
 *   not grab the lease back at once. Renewal and the heartbeat run in their own loop, so a long
 *   write or replay step never lets the lease lapse.
 * - A clean stop releases the lease (another feeder takes over at once) and leaves the view.
 */

import type { RedisClient } from "../redis/client.ts";
import type { GroupStatus } from "../runtime/status.ts";
import { log } from "../log.ts";
import { errorText } from "../redact.ts";
import { type MonotonicClock, monotonicNow, sleep } from "../time.ts";
import { type LeaseHolder, WriterLease } from "./writer_lease.ts";
import { GroupMembers, type MemberRecord } from "./group_members.ts";

/** How a feeder takes part in a group. */
export interface FeederGroupOptions {
  /** The group's name (`--group`). */
  group: string;
  /** This feeder's id (`--feeder-id`), unique in the group. */
  feederId: string;
  /** The writer lease's time to live (`--lease-ms`). */
  leaseMs: number;
  /** Key prefix `P`. */
  prefix: string;
  /** Deadline of each lease or heartbeat command. */
  deadlineMs: number;
}

/** Least time between two heartbeats (and group view reads). */
const BEAT_MS = 1_000;

export class FeederGroup {
  #o: FeederGroupOptions;
  #pending: () => number;
  #clock: MonotonicClock;
  #lease: WriterLease;
  #members: GroupMembers;
  #held: { epoch: number; renewedAt: number } | null = null;
  #lastEpoch: number | null = null;
  #lostReason = "not the writer";
  #acquisitions = 0;
  #writer: LeaseHolder | null = null;
  #view: MemberRecord[] = [];
  #viewAt: number | null = null;
  #live: string[] = [];
  #lastError: string | null = null;

  /** `pending` says how many rows this feeder's journal holds pending (for the view). */
  constructor(
    redis: RedisClient,
    pending: () => number,
    options: FeederGroupOptions,
    clock: MonotonicClock = monotonicNow,
  ) {
    this.#o = options;
    this.#pending = pending;
    this.#clock = clock;
    this.#lease = new WriterLease(redis, options);
    this.#members = new GroupMembers(redis, options);
  }

  /** True while this feeder holds the lease (see the module comment). */
  holds(): boolean {
    const held = this.#held;
    if (held && this.#clock() - held.renewedAt >= this.#o.leaseMs) {
      this.stepBack(`lease not renewed within ${this.#o.leaseMs} ms`, false);
    }
    return this.#held !== null;
  }

  /** The epoch writes carry: the held one, else the last one (0 before the first). */
  epoch(): number {
    return this.#held?.epoch ?? this.#lastEpoch ?? 0;
  }

  /** Why this feeder does not hold the lease (for the core's mode change). */
  get lostReason(): string {
    return this.#lostReason;
  }

  /** Tries to take the lease; true when taken. Never throws. */
  async tryAcquire(): Promise<boolean> {
    if (this.#held) return true;
    const sentAt = this.#clock();
    try {
      const outcome = await this.#lease.acquire();
      if (!outcome.acquired) {
        this.#writer = outcome.holder;
        return false;
      }
      this.#held = { epoch: outcome.epoch, renewedAt: sentAt };
      this.#lastEpoch = outcome.epoch;
      this.#writer = { feederId: this.#o.feederId, epoch: outcome.epoch };
      this.#acquisitions++;
      this.#lastError = null;
      log.info("writer lease taken", this.#fields({ epoch: outcome.epoch }));
      return true;
    } catch (e) {
      this.#lastError = `lease: ${errorText(e)}`;
      return false;
    }
  }

  /** Raises each market's fence to our epoch; false (and stepped back) when a newer one is up. */
  async raiseFences(markets: readonly string[]): Promise<boolean> {
    const held = this.#held;
    if (!held) return false;
    if (await this.#lease.raiseFences(markets, held.epoch)) return true;
    this.stepBack("a newer writer's fence is up", false);
    return false;
  }

  /** Gives the lease up (idempotent, logged once); `release` also deletes it on the primary. */
  stepBack(reason: string, release: boolean): void {
    const held = this.#held;
    if (!held) return;
    this.#held = null;
    this.#lostReason = reason;
    if (this.#writer?.feederId === this.#o.feederId) this.#writer = null;
    log.warn(
      "writer lease lost: stepping back to standby",
      this.#fields({ epoch: held.epoch, reason }),
    );
    if (release) this.#lease.release(held.epoch).catch(() => {/* it expires anyway */});
  }

  /** The markets whose exchange connection is live here (pushed by the stream every tick). */
  setLive(markets: string[]): void {
    this.#live = markets;
  }

  /** Renews the lease and publishes the heartbeat until `signal` aborts. */
  async run(signal: AbortSignal): Promise<void> {
    const tickMs = Math.min(500, Math.max(50, Math.floor(this.#o.leaseMs / 10)));
    let beatAt = -Infinity;
    while (!signal.aborted) {
      const held = this.#held;
      if (held && this.#clock() - held.renewedAt >= this.#o.leaseMs / 3) await this.#renew(held);
      if (this.#clock() - beatAt >= BEAT_MS) {
        beatAt = this.#clock();
        await this.#beat();
      }
      await sleep(tickMs, signal);
    }
  }

  /** Releases a held lease and leaves the view (a clean stop); best effort. */
  async close(): Promise<void> {
    const held = this.#held;
    this.#held = null;
    await Promise.allSettled([
      held ? this.#lease.release(held.epoch) : Promise.resolve(),
      this.#members.leave(this.#o.feederId),
    ]);
  }

  status(nowMs = Date.now()): GroupStatus {
    const holds = this.#held !== null;
    return {
      name: this.#o.group,
      feederId: this.#o.feederId,
      role: holds ? "writer" : "standby",
      epoch: holds ? this.#held!.epoch : null,
      writer: this.#writer ? { id: this.#writer.feederId, epoch: this.#writer.epoch } : null,
      leaseMs: this.#o.leaseMs,
      acquisitions: this.#acquisitions,
      members: this.#view.map((m) => ({ ...m, ageMs: Math.max(0, nowMs - m.at) })),
      viewAt: this.#viewAt,
      lastError: this.#lastError,
    };
  }

  async #renew(held: { epoch: number; renewedAt: number }): Promise<void> {
    const sentAt = this.#clock();
    try {
      const r = await this.#lease.renew(held.epoch);
      if (this.#held !== held) return;
      if (r.renewed) held.renewedAt = sentAt;
      else {
        this.#writer = r.holder;
        const by = r.holder ? `${r.holder.feederId} (epoch ${r.holder.epoch})` : "nobody";
        this.stepBack(`the lease expired and is now held by ${by}`, false);
      }
    } catch (e) {
      this.stepBack(`lease renewal failed: ${errorText(e)}`, false);
    }
  }

  async #beat(): Promise<void> {
    const holds = this.#held !== null;
    const record: MemberRecord = {
      id: this.#o.feederId,
      role: holds ? "writer" : "standby",
      epoch: this.#held?.epoch ?? this.#lastEpoch,
      at: Date.now(),
      live: this.#live,
      pending: this.#pending(),
    };
    try {
      const [view, writer] = await Promise.all([
        this.#members.beat(record, Math.max(3 * BEAT_MS, this.#o.leaseMs)),
        this.#lease.holder(),
      ]);
      this.#view = view;
      this.#writer = writer;
      this.#viewAt = Date.now();
      this.#lastError = null;
    } catch (e) {
      this.#lastError = `group view: ${errorText(e)}`;
    }
  }

  #fields(extra: Record<string, unknown>): Record<string, unknown> {
    return { group: this.#o.group, feeder: this.#o.feederId, ...extra };
  }
}
