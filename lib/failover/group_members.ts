/**
 * The group view: every feeder of a group publishes a small heartbeat record into the primary
 * (`P:{feeders:<group>}:members`, a hash: feeder id -> JSON) about once a second, and reads the
 * others'. A record older than `liveMs` is not live; one much older is deleted by whoever reads.
 *
 * Ages are measured on the reader's clock against the writer's `at`, so hosts need clocks in
 * step (NTP) to within a fraction of `liveMs`. The view only informs health, metrics and the
 * monitor: nothing that decides who writes depends on it (the lease and the fences do).
 */

import type { RedisClient } from "../redis/client.ts";
import { groupKeys } from "../redis/keys.ts";
import { withDeadline } from "../time.ts";
import { connectIfIdle } from "../redis/client.ts";

/** One feeder's heartbeat record, as published. */
export interface MemberRecord {
  id: string;
  role: "writer" | "standby";
  /** The epoch it writes with (writer), or its last one (standby); null: never wrote. */
  epoch: number | null;
  /** Its clock, ms since the epoch, when published. */
  at: number;
  /** Markets whose exchange connection is live there. */
  live: string[];
  /** Rows pending in its journal. */
  pending: number;
}

/** Records this many `liveMs` old are deleted by readers. */
const FORGET_FACTOR = 20;

/** Publishes and reads the heartbeat records of one group. */
export class GroupMembers {
  #redis: RedisClient;
  #key: string;
  #deadlineMs: number;

  constructor(redis: RedisClient, o: { prefix: string; group: string; deadlineMs: number }) {
    this.#redis = redis;
    this.#key = groupKeys(o.prefix, o.group).members;
    this.#deadlineMs = o.deadlineMs;
  }

  /** Publishes `record` and reads every record live at `now` (its own included), by id. */
  async beat(record: MemberRecord, liveMs: number, now = Date.now()): Promise<MemberRecord[]> {
    const redis = this.#redis;
    const all = await withDeadline(
      (async () => {
        await connectIfIdle(redis).catch(() => {});
        const replies = await redis.pipeline()
          .hset(this.#key, record.id, JSON.stringify(record))
          .hgetall(this.#key)
          .exec();
        const [err, value] = replies?.[1] ?? [new Error("no reply"), null];
        if (err) throw err;
        return value as Record<string, string>;
      })(),
      this.#deadlineMs,
      "group members",
    );
    const live: MemberRecord[] = [];
    const forget: string[] = [];
    for (const [id, text] of Object.entries(all)) {
      const m = parseMember(text);
      if (!m || now - m.at > liveMs * FORGET_FACTOR) forget.push(id);
      else if (now - m.at <= liveMs) live.push(m);
    }
    if (forget.length) redis.hdel(this.#key, ...forget).catch(() => {});
    return live.sort((a, b) => a.id.localeCompare(b.id));
  }

  /** Removes this feeder's record (a clean stop), best effort. */
  async leave(id: string): Promise<void> {
    await withDeadline(this.#redis.hdel(this.#key, id), this.#deadlineMs, "group leave");
  }
}

function parseMember(text: string): MemberRecord | null {
  try {
    const m = JSON.parse(text);
    return typeof m?.id === "string" && typeof m.at === "number" ? m as MemberRecord : null;
  } catch {
    return null;
  }
}
