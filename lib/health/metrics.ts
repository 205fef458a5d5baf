/**
 * Prometheus metrics of a running stream, served at `GET /metrics`.
 *
 * Everything except the Redis latency histogram is read from the stream's status at scrape
 * time (prom-client `collect` callbacks, all reading one snapshot taken per scrape), so the
 * metrics and `/health` can never disagree and the hot path pays nothing. Counters are the status's own monotonic counters (they restart at
 * zero with the process, as Prometheus expects of counters). A scrape never changes the stream.
 *
 * Each registry is private to its {@link StreamMetrics}: nothing is put in prom-client's
 * global registry, so several instances (tests) never collide.
 */

import { Counter, Gauge, Registry } from "prom-client";
import type { StreamStatus } from "../runtime/status.ts";
import type { Mode } from "../domain.ts";
import { MARKET_STATES, REDIS_FAILURE_REASONS } from "../domain.ts";
import { MARKET_COUNTERS, SCALAR_COUNTERS } from "./_counter_table.ts";
import { type LatencyTarget, RedisLatency } from "./latency.ts";

export { LATENCY_BUCKETS_SECONDS } from "./latency.ts";

const MODES: Mode[] = ["primary", "failover", "syncing"];

/** Options of {@link StreamMetrics}. */
export interface StreamMetricsOptions {
  /** Clock for trade ages. @default Date.now */
  now: () => number;
  /** Exported as `btcfeed_info{version}`. @default "" */
  version: string;
  /** The latency histogram the core reports into. @default a new one */
  latency: RedisLatency;
}

/** The stream's metrics registry. */
export class StreamMetrics {
  /** The registry holding every btcfeed metric. */
  readonly registry: Registry = new Registry();
  #latency: RedisLatency;
  #getStatus: () => StreamStatus | null;
  /** The status every collect callback of the current scrape reads (one snapshot a scrape). */
  #scraped: StreamStatus | null | undefined = undefined;

  /** `getStatus` is called at each scrape; null (no status yet) exports only static metrics. */
  constructor(getStatus: () => StreamStatus | null, options: Partial<StreamMetricsOptions> = {}) {
    const now = options.now ?? Date.now;
    const r = this.registry;
    this.#getStatus = getStatus;
    const current = () => this.#scraped === undefined ? getStatus() : this.#scraped;
    const gauge = <L extends string>(
      name: string,
      help: string,
      labelNames: L[],
      fill: (g: Gauge<L>, s: StreamStatus) => void,
    ) =>
      new Gauge<L>({
        name,
        help,
        labelNames,
        registers: [r],
        collect() {
          this.reset();
          const s = current();
          if (s) fill(this, s);
          else if (!labelNames.length) this.remove({});
        },
      });
    const counter = <L extends string>(
      name: string,
      help: string,
      labelNames: L[],
      fill: (inc: (labels: Partial<Record<L, string>>, v: number) => void, s: StreamStatus) => void,
    ) =>
      new Counter<L>({
        name,
        help,
        labelNames,
        registers: [r],
        collect() {
          this.reset();
          const s = current();
          if (s) fill((labels, v) => this.inc(labels, Math.max(0, v)), s);
          else if (!labelNames.length) this.remove({});
        },
      });

    const info = new Gauge({
      name: "btcfeed_info",
      help: "Build information; always 1.",
      labelNames: ["version"],
      registers: [r],
    });
    info.set({ version: options.version ?? "" }, 1);
    gauge(
      "btcfeed_start_time_seconds",
      "When the stream started, seconds since the epoch.",
      [],
      (g, s) => g.set(s.startedAt / 1000),
    );

    for (const [name, help, value] of SCALAR_COUNTERS) {
      counter(name, help, [], (inc, s) => inc({}, value(s) ?? 0));
    }
    counter(
      "btcfeed_writes_total",
      "Trades written per target: primary, failover (Redis) or outbox (disk).",
      ["target"],
      (inc, s) => {
        inc({ target: "primary" }, s.counters.writtenPrimary);
        inc({ target: "failover" }, s.counters.writtenFailover);
        inc({ target: "outbox" }, s.counters.outboxAppended);
      },
    );
    counter(
      "btcfeed_gap_records_total",
      "Gap records by outcome: written (primary acknowledged), failed (refused, dropped), " +
        "unstored (not storable locally).",
      ["outcome"],
      (inc, s) => {
        for (const outcome of ["written", "failed", "unstored"] as const) {
          inc({ outcome }, s.gapRecords?.[outcome] ?? 0);
        }
      },
    );

    gauge("btcfeed_mode", "1 for the current write mode, 0 for the others.", ["mode"], (g, s) => {
      for (const mode of MODES) g.set({ mode }, s.mode === mode ? 1 : 0);
    });
    gauge(
      "btcfeed_forced",
      "1 while failover is forced by `btcfeed failover`.",
      [],
      (g, s) => g.set(s.forced ? 1 : 0),
    );
    gauge(
      "btcfeed_outbox_depth",
      "Trades waiting in the outbox.",
      [],
      (g, s) => g.set(s.outbox.depth),
    );
    gauge(
      "btcfeed_outbox_bytes",
      "Size of the outbox on disk.",
      [],
      (g, s) => g.set(s.outbox.bytes),
    );
    gauge(
      "btcfeed_outbox_max_trades",
      "The outbox's limit in trades.",
      [],
      (g, s) => g.set(s.outbox.maxTrades),
    );
    gauge(
      "btcfeed_outbox_dead_letters",
      "Outbox rows the primary rejected as out-of-order, kept for inspection.",
      [],
      (g, s) => g.set(s.outbox.deadLetters ?? 0),
    );
    gauge(
      "btcfeed_outbox_full",
      "1 while the outbox is at its limit.",
      [],
      (g, s) => g.set(s.outbox.full ? 1 : 0),
    );
    gauge(
      "btcfeed_outbox_error",
      "1 while the outbox reports a disk error.",
      [],
      (g, s) => g.set(s.outbox.lastError ? 1 : 0),
    );
    gauge(
      "btcfeed_sync_done",
      "Trades replayed in the current sync (0 when not syncing).",
      [],
      (g, s) => g.set(s.sync?.done ?? 0),
    );
    gauge(
      "btcfeed_sync_total",
      "Trades to replay in the current sync (0 when not syncing).",
      [],
      (g, s) => g.set(s.sync?.total ?? 0),
    );
    gauge("btcfeed_redis_up", "1 while a Redis target answers probes.", ["target"], (g, s) => {
      g.set({ target: "primary" }, s.primary.healthy ? 1 : 0);
      if (s.failover.url !== null) g.set({ target: "failover" }, s.failover.healthy ? 1 : 0);
    });
    gauge(
      "btcfeed_primary_write_failure",
      "1 for the reason the primary takes no writes (readonly, oom, misconf, noperm, loading, " +
        "unreachable, ...), 0 for the others; all 0 while it takes writes.",
      ["reason"],
      (g, s) => {
        for (const reason of REDIS_FAILURE_REASONS) {
          g.set({ reason }, s.primary.reason === reason ? 1 : 0);
        }
      },
    );

    for (const [name, help, value] of MARKET_COUNTERS) {
      counter(name, help, ["market"], (inc, s) => {
        for (const [market, m] of Object.entries(s.markets)) inc({ market }, value(m) ?? 0);
      });
    }
    counter(
      "btcfeed_market_quarantined_total",
      "Messages set aside as invalid, per market and reason.",
      ["market", "reason"],
      (inc, s) => {
        for (const [market, m] of Object.entries(s.markets)) {
          for (const [reason, n] of Object.entries(m.quarantined)) inc({ market, reason }, n);
        }
      },
    );
    gauge(
      "btcfeed_market_last_trade_age_seconds",
      "Seconds since the exchange time of each market's latest trade (absent before the first).",
      ["market"],
      (g, s) => {
        const t = now();
        for (const [market, m] of Object.entries(s.markets)) {
          if (m.last) g.set({ market }, Math.max(0, t - m.last.ts) / 1000);
        }
      },
    );
    gauge(
      "btcfeed_market_state",
      "1 for each market's current state.",
      ["market", "state"],
      (g, s) => {
        for (const [market, m] of Object.entries(s.markets)) {
          for (const state of MARKET_STATES) g.set({ market, state }, m.state === state ? 1 : 0);
        }
      },
    );
    gauge("btcfeed_market_outlier", "1 while a market is left out of the consolidated price.", [
      "market",
    ], (g, s) => {
      for (const [market, m] of Object.entries(s.markets)) g.set({ market }, m.outlier ? 1 : 0);
    });
    gauge("btcfeed_consolidated_market", "1 for the market feeding the consolidated price.", [
      "market",
    ], (g, s) => {
      if (s.consolidatedMarket) g.set({ market: s.consolidatedMarket }, 1);
    });

    this.#latency = options.latency ?? new RedisLatency();
    r.registerMetric(this.#latency.histogram);
  }

  /** Records one Redis round trip of `ms` milliseconds to `target`. Ignores invalid values. */
  observeLatency(target: LatencyTarget, ms: number): void {
    this.#latency.observe(target, ms);
  }

  /** Prometheus text exposition of every metric, all from one status snapshot. */
  async metrics(): Promise<string> {
    this.#scraped = this.#getStatus();
    try {
      return await this.registry.metrics();
    } finally {
      this.#scraped = undefined;
    }
  }

  /** The exposition's content type (`text/plain; version=0.0.4; charset=utf-8`). */
  get contentType(): string {
    return this.registry.contentType;
  }
}
