/**
 * The writer lease of a feeder group, kept in the primary: which feeder writes, under which
 * fencing epoch. Every operation is one small Lua script, so it is atomic on the server.
 *
 * Guarantees:
 * - At most one feeder holds the lease at a time (`P:{feeders:<group>}:lease`, a string
 *   `<feederId> <epoch>` with a TTL of `leaseMs`). Acquiring needs the key absent, or already
 *   naming this feeder; every acquisition increments `P:{feeders:<group>}:epoch`, so an epoch is
 *   never handed out twice, not even to the same feeder.
 * - Renewal and release compare the whole value: a feeder whose lease expired and was taken
 *   (a new epoch) can neither extend nor delete the new holder's lease.
 * - The lease is only liveness. Safety comes from the fences: a new holder first raises every
 *   market's fence (`P:{<market>}:fence`, in that market's slot) to its epoch, and the apply
 *   script refuses any write whose epoch is below the fence, so a writer that paused past its
 *   lease (SIGSTOP, a long GC, a partition) and wakes with writes in flight writes nothing.
 *
 * Times are the primary's (`PX`): no clock of any feeder is trusted.
 */

import type { RedisClient } from "../redis/client.ts";
import { groupKeys, marketKeys } from "../redis/keys.ts";
import { withDeadline } from "../time.ts";
import { connectIfIdle } from "../redis/client.ts";

/** KEYS: lease, epoch. ARGV: feeder id, lease ms. Reply: {1, epoch} or {0, holder value}. */
const ACQUIRE = `
local cur = redis.call('GET', KEYS[1])
if cur and string.sub(cur, 1, #ARGV[1] + 1) ~= ARGV[1] .. ' ' then return {0, cur} end
local epoch = redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], ARGV[1] .. ' ' .. epoch, 'PX', ARGV[2])
return {1, epoch}
`;

/** KEYS: lease. ARGV: value, lease ms. Reply: 1 renewed, or the current value (false: none). */
const RENEW = `
local cur = redis.call('GET', KEYS[1])
if cur ~= ARGV[1] then return {0, cur or ''} end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return {1, cur}
`;

/** KEYS: lease. ARGV: value. Deletes the lease only if it is still this value. */
const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;

/** KEYS: a market's fence. ARGV: epoch. Reply: 1 raised or equal, 0 below the fence. */
const RAISE_FENCE = `
local f = tonumber(redis.call('GET', KEYS[1]) or '0') or 0
local e = tonumber(ARGV[1])
if e < f then return 0 end
if e > f then redis.call('SET', KEYS[1], ARGV[1]) end
return 1
`;

/** Who holds the lease, as the primary says. */
export interface LeaseHolder {
  feederId: string;
  epoch: number;
}

/** How an acquisition attempt ended. */
export type AcquireOutcome =
  | { acquired: true; epoch: number }
  | { acquired: false; holder: LeaseHolder | null };

/** Parses a lease value `<feederId> <epoch>`; null when it is not one. */
export function parseLeaseValue(value: string | null | undefined): LeaseHolder | null {
  const m = /^(\S+) (\d+)$/.exec(value ?? "");
  return m ? { feederId: m[1], epoch: Number(m[2]) } : null;
}

/** The lease operations of one feeder on one group; each with the deadline `deadlineMs`. */
export class WriterLease {
  #redis: RedisClient;
  #keys: ReturnType<typeof groupKeys>;
  #prefix: string;
  #feederId: string;
  #leaseMs: number;
  #deadlineMs: number;

  constructor(
    redis: RedisClient,
    o: { prefix: string; group: string; feederId: string; leaseMs: number; deadlineMs: number },
  ) {
    this.#redis = redis;
    this.#keys = groupKeys(o.prefix, o.group);
    this.#prefix = o.prefix;
    this.#feederId = o.feederId;
    this.#leaseMs = o.leaseMs;
    this.#deadlineMs = o.deadlineMs;
  }

  /** Takes the lease when it is free (or already this feeder's), with a new epoch. */
  async acquire(): Promise<AcquireOutcome> {
    const { lease, epoch } = this.#keys;
    const [ok, value] = await this.#eval(ACQUIRE, [lease, epoch], [
      this.#feederId,
      this.#leaseMs,
    ]);
    if (Number(ok) === 1) return { acquired: true, epoch: Number(value) };
    return { acquired: false, holder: parseLeaseValue(String(value)) };
  }

  /** Extends the lease held with `epoch`; the holder found instead when it is not ours. */
  async renew(
    epoch: number,
  ): Promise<{ renewed: true } | { renewed: false; holder: LeaseHolder | null }> {
    const [ok, value] = await this.#eval(RENEW, [this.#keys.lease], [
      this.#value(epoch),
      this.#leaseMs,
    ]);
    return Number(ok) === 1
      ? { renewed: true }
      : { renewed: false, holder: parseLeaseValue(String(value)) };
  }

  /** Deletes the lease if it is still ours with `epoch`, so another feeder takes over at once. */
  async release(epoch: number): Promise<void> {
    await this.#eval(RELEASE, [this.#keys.lease], [this.#value(epoch)]);
  }

  /** The current holder, or null. */
  async holder(): Promise<LeaseHolder | null> {
    const value = await this.#send(() => this.#redis.get(this.#keys.lease), "lease read");
    return parseLeaseValue(value);
  }

  /**
   * Raises every market's fence to `epoch` (one call per market, sent together: on a cluster
   * each fence is in its market's slot). False when some fence is already higher: a newer
   * writer exists and this one must not write.
   */
  async raiseFences(markets: readonly string[], epoch: number): Promise<boolean> {
    const raise = (m: string) =>
      this.#redis.eval(RAISE_FENCE, 1, marketKeys(this.#prefix, m).fence, String(epoch));
    const replies = await this.#send(() => Promise.all(markets.map(raise)), "fence raise");
    return replies.every((reply) => Number(reply) === 1);
  }

  #value(epoch: number): string {
    return `${this.#feederId} ${epoch}`;
  }

  async #eval(script: string, keys: string[], args: (string | number)[]): Promise<unknown[]> {
    const send = () => this.#redis.eval(script, keys.length, ...keys, ...args);
    return await this.#send(send, "writer lease") as unknown[];
  }

  /** Connects a lazy client first; the whole within the deadline. */
  #send<T>(send: () => Promise<T>, what: string): Promise<T> {
    const redis = this.#redis;
    return withDeadline(
      (async () => {
        await connectIfIdle(redis).catch(() => {/* the command then says why */});
        return await send();
      })(),
      this.#deadlineMs,
      what,
    );
  }
}
