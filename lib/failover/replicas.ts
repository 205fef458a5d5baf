/**
 * `--primary-replicas N`: a write counts as acknowledged only once `WAIT N` says that many
 * replicas have it. `WAIT` covers every write sent before it on the same connection, so it is
 * issued after the pipeline, on the writer's own client.
 */

import type { Redis } from "ioredis";

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
  redis: Redis,
  wanted: number,
  timeoutMs: number,
): Promise<void> {
  if (wanted <= 0) return;
  const confirmed = Number(await redis.call("WAIT", wanted, Math.max(1, Math.floor(timeoutMs))));
  if (confirmed < wanted) throw new ReplicaShortfall(confirmed, wanted);
}
