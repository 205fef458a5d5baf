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
import {
  MARKET_COUNTERS,
  MARKET_GAP_GAUGES,
  REST_COUNTERS,
  SCALAR_COUNTERS,
  SCALAR_GAUGES,
} from "./_counter_table.ts";
import { type LatencyTarget, RedisLatency } from "./latency.ts";

export { LATENCY_BUCKETS_SECONDS } from "./latency.ts";

const MODES: Mode[] = ["primary", "failover", "syncing", "standby"];

/** Options of {@link StreamMetrics}. */
export interface StreamMetricsOptions {
  /** Clock for trade ages. @default Date.now */
  now: () => number;
  /** Exported as `btcfeed_info{version}`. @default "" */
  version: string;
  /** The latency histogram the core reports into. @default a new one */
  latency: RedisLatency;
}

/** Sets a gauge's values from the scraped status. */
type GaugeFill<L extends string> = (g: Gauge<L>, s: StreamStatus) => void;
/** Adds a counter's values (clamped at 0) from the scraped status. */
type CounterFill<L extends string> = (
  inc: (labels: Partial<Record<L, string>>, v: number) => void,
  s: StreamStatus,
) => void;

/** Registers metrics whose values are read from the scraped status at each scrape. */
interface Definer {
  gauge<L extends string>(name: string, help: string, labelNames: L[], fill: GaugeFill<L>): void;
  counter<L extends string>(
    name: string,
    help: string,
    labelNames: L[],
    fill: CounterFill<L>,
  ): void;
}

/** A {@link Definer} into `r`; without a status, an unlabelled metric exports no sample. */
function definer(r: Registry, current: () => StreamStatus | null): Definer {
  return {
    gauge(name, help, labelNames, fill) {
      new Gauge({
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
    },
    counter(name, help, labelNames, fill) {
      new Counter({
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
    },
  };
}

/** `btcfeed_info{version}` (static) and the start time. */
function defineInfo(r: Registry, d: Definer, version: string): void {
  const info = new Gauge({
    name: "btcfeed_info",
    help: "Build information; always 1.",
    labelNames: ["version"],
    registers: [r],
  });
  info.set({ version }, 1);
  d.gauge(
    "btcfeed_start_time_seconds",
    "When the stream started, seconds since the epoch.",
    [],
    (g, s) => g.set(s.startedAt / 1000),
  );
}

/** Counters of the whole stream: the table, then writes per target and gap records per outcome. */
function defineStreamCounters(d: Definer): void {
  for (const [name, help, value] of SCALAR_COUNTERS) {
    d.counter(name, help, [], (inc, s) => inc({}, value(s) ?? 0));
  }
  d.counter(
    "btcfeed_writes_total",
    "Trades written per target: primary, failover (Redis) or outbox (disk).",
    ["target"],
    (inc, s) => {
      inc({ target: "primary" }, s.counters.writtenPrimary);
      inc({ target: "failover" }, s.counters.writtenFailover);
      inc({ target: "outbox" }, s.counters.outboxAppended);
    },
  );
  d.counter(
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
}

/** Gauges of the whole stream: mode, the table (outbox, sync), Redis targets up. */
function defineStreamGauges(d: Definer): void {
  d.gauge("btcfeed_mode", "1 for the current write mode, 0 for the others.", ["mode"], (g, s) => {
    for (const mode of MODES) g.set({ mode }, s.mode === mode ? 1 : 0);
  });
  for (const [name, help, value] of SCALAR_GAUGES) {
    d.gauge(name, help, [], (g, s) => g.set(value(s)));
  }
  d.gauge("btcfeed_role", "1 for this feeder's role in its group (writer, standby).", ["role"], (
    g,
    s,
  ) => {
    if (!s.group) return;
    for (const role of ["writer", "standby"]) g.set({ role }, s.group.role === role ? 1 : 0);
  });
  d.gauge("btcfeed_group_market_feeders", "Live feeders of the group per market.", ["market"], (
    g,
    s,
  ) => {
    for (const market of Object.keys(s.group ? s.markets : {})) {
      g.set({ market }, s.group!.members.filter((m) => m.live.includes(market)).length);
    }
  });
  d.gauge("btcfeed_redis_up", "1 while a Redis target answers probes.", ["target"], (g, s) => {
    g.set({ target: "primary" }, s.primary.healthy ? 1 : 0);
    if (s.failover.url !== null) g.set({ target: "failover" }, s.failover.healthy ? 1 : 0);
  });
  d.gauge(
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
}

/** Counters per market: the table, then quarantined messages per reason. */
function defineMarketCounters(d: Definer): void {
  for (const [name, help, value] of MARKET_COUNTERS) {
    d.counter(name, help, ["market"], (inc, s) => {
      for (const [market, m] of Object.entries(s.markets)) inc({ market }, value(m) ?? 0);
    });
  }
  d.counter(
    "btcfeed_market_quarantined_total",
    "Messages set aside as invalid, per market and reason.",
    ["market", "reason"],
    (inc, s) => {
      for (const [market, m] of Object.entries(s.markets)) {
        for (const [reason, n] of Object.entries(m.quarantined)) inc({ market, reason }, n);
      }
    },
  );
}

/** Gauges per market: last trade age (by `now`), state, outlier, consolidated source. */
function defineMarketGauges(d: Definer, now: () => number): void {
  d.gauge(
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
  d.gauge("btcfeed_market_state", "1 for each market's current state.", ["market", "state"], (
    g,
    s,
  ) => {
    for (const [market, m] of Object.entries(s.markets)) {
      for (const state of MARKET_STATES) g.set({ market, state }, m.state === state ? 1 : 0);
    }
  });
  d.gauge("btcfeed_market_outlier", "1 while a market is left out of the consolidated price.", [
    "market",
  ], (g, s) => {
    for (const [market, m] of Object.entries(s.markets)) g.set({ market }, m.outlier ? 1 : 0);
  });
  for (const [name, help, value] of MARKET_GAP_GAUGES) {
    d.gauge(name, help, ["market"], (g, s) => {
      for (const [market, m] of Object.entries(s.markets)) {
        const v = value(m);
        if (v !== undefined) g.set({ market }, v);
      }
    });
  }
  d.gauge("btcfeed_consolidated_market", "1 for the market feeding the consolidated price.", [
    "market",
  ], (g, s) => {
    if (s.consolidatedMarket) g.set({ market: s.consolidatedMarket }, 1);
  });
}

/** Per exchange's REST backfill budget: the table of counters, and whether it is banned. */
function defineRestMetrics(d: Definer): void {
  for (const [name, help, value] of REST_COUNTERS) {
    d.counter(name, help, ["exchange"], (inc, s) => {
      for (const [exchange, r] of Object.entries(s.rest ?? {})) inc({ exchange }, value(r));
    });
  }
  d.gauge("btcfeed_rest_banned", "1 while an exchange bans this IP's REST (HTTP 418).", [
    "exchange",
  ], (g, s) => {
    for (const [exchange, r] of Object.entries(s.rest ?? {})) {
      g.set({ exchange }, r.state === "banned" ? 1 : 0);
    }
  });
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
    const r = this.registry;
    this.#getStatus = getStatus;
    // Registration order is exposition order.
    const d = definer(r, () => this.#scraped === undefined ? getStatus() : this.#scraped);
    defineInfo(r, d, options.version ?? "");
    defineStreamCounters(d);
    defineStreamGauges(d);
    defineMarketCounters(d);
    defineMarketGauges(d, options.now ?? Date.now);
    defineRestMetrics(d);
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
