/**
 * The Redis round-trip histogram: the one metric observed as it happens rather than read from
 * the status at scrape time. Its own object, so the failover core can report into it before the
 * rest of the metrics (which read the whole stream's status) exist.
 */

import { Histogram } from "prom-client";

/** Latency histogram buckets, seconds: 0.25 ms to 2.5 s. */
export const LATENCY_BUCKETS_SECONDS = [
  0.00025,
  0.0005,
  0.001,
  0.0025,
  0.005,
  0.01,
  0.025,
  0.05,
  0.1,
  0.25,
  0.5,
  1,
  2.5,
];

/** Which Redis a round trip went to. */
export type LatencyTarget = "primary" | "failover";

/** `btcfeed_redis_latency_seconds`, in no registry until a {@link StreamMetrics} adds it. */
export class RedisLatency {
  readonly histogram: Histogram<"target"> = new Histogram({
    name: "btcfeed_redis_latency_seconds",
    help: "Round trip of Redis probes and writes, per target.",
    labelNames: ["target"],
    buckets: LATENCY_BUCKETS_SECONDS,
    registers: [],
  });

  /** Records one Redis round trip of `ms` milliseconds to `target`. Ignores invalid values. */
  observe(target: LatencyTarget, ms: number): void {
    if (!Number.isFinite(ms) || ms < 0) return;
    this.histogram.observe({ target }, ms / 1000);
  }
}
