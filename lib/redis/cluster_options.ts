/**
 * ioredis Cluster options for a `redis+cluster://` / `rediss+cluster://` URL.
 *
 * Guarantees: the same fail-fast stance as a single client (url.ts `redisOptions`): lazy, no
 * offline queue (a command while the cluster is not ready rejects at once; the failover core
 * journals it), node connections with the connect and command deadlines, TLS verified unless
 * explicitly turned off. Routing, MOVED/ASK redirections, TRYAGAIN and slot-map refreshes after a
 * master failover are ioredis' own (`maxRedirections` 16, refreshes bounded by the connect
 * deadline); reads and writes go to masters only. Nothing here routes a command.
 */

import type { ClusterOptions } from "ioredis";
import { reconnectDelayMs, type RedisClientOptions, redisOptions, type RedisUrl } from "./url.ts";

/** Retry delay after a MOVED is 0 (follow at once); after CLUSTERDOWN/TRYAGAIN/failover, 100 ms. */
const REDIRECT_RETRY_MS = 100;

/** The seed nodes and the Cluster options for `url` (which must be a Cluster URL). */
export function clusterOptions(
  url: RedisUrl,
  options: Partial<RedisClientOptions> = {},
): { nodes: { host: string; port: number }[]; options: ClusterOptions } {
  if (!url.cluster) throw new TypeError("not a cluster URL");
  const {
    host: _h,
    port: _p,
    db: _d,
    retryStrategy: _r,
    enableOfflineQueue: _q,
    tls,
    ...node
  } = redisOptions(url, options);
  // Nodes are announced by IP: the certificate is checked against the address, never a SNI name.
  const nodeTls = tls ? { ...tls, servername: undefined } : undefined;
  const connectMs = Number(node.connectTimeout ?? 1000);
  return {
    nodes: url.cluster.nodes,
    options: {
      redisOptions: { ...node, ...(nodeTls ? { tls: nodeTls } : {}) },
      lazyConnect: true,
      enableOfflineQueue: false,
      enableReadyCheck: true,
      scaleReads: "master",
      maxRedirections: 16,
      retryDelayOnMoved: 0,
      retryDelayOnFailover: REDIRECT_RETRY_MS,
      retryDelayOnClusterDown: REDIRECT_RETRY_MS,
      retryDelayOnTryAgain: REDIRECT_RETRY_MS,
      slotsRefreshTimeout: connectMs,
      clusterRetryStrategy: (attempt: number) => reconnectDelayMs(attempt),
    },
  };
}
