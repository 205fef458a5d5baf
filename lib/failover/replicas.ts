/**
 * `--primary-replicas N`: a write counts as acknowledged only once `WAIT N` says that many
 * replicas have it. `WAIT` covers every write sent before it on the same connection, so it is
 * issued after the pipeline, on the writer's own client.
 */

import type { Cluster, Redis } from "ioredis";
import type { RedisClient } from "../redis/client.ts";

/** Fewer replicas confirmed a write than `--primary-replicas` asks; the rows stay pending. */
export class ReplicaShortfall extends Error {
  override name = "ReplicaShortfall";
  readonly confirmed: number;
  readonly wanted: number;
  constructor(confirmed: number, wanted: number) {
    super(`primary replicas: WAIT confirmed ${confirmed} of ${wanted} (--primary-replicas)`);
    this.confirmed = confirmed;
    this.wanted = wanted;
  }
}

/**
 * Resolves when `wanted` replicas hold this connection's writes (at once when `wanted` is 0).
 * @throws ReplicaShortfall when fewer confirmed within `timeoutMs`; the client's error otherwise
 */
export async function confirmReplicas(
  redis: RedisClient,
  wanted: number,
  timeoutMs: number,
): Promise<void> {
  if (wanted <= 0) return;
  const ms = Math.max(1, Math.floor(timeoutMs));
  // On a cluster, WAIT is per connection: ask every master, on the connection the writes used;
  // the weakest one is what is confirmed.
  const nodes = redis.isCluster ? (redis as Cluster).nodes("master") : [redis as Redis];
  const replies = await Promise.all(nodes.map((n) => n.call("WAIT", wanted, ms)));
  const confirmed = Math.min(...replies.map(Number));
  if (confirmed < wanted) throw new ReplicaShortfall(confirmed, wanted);
}
