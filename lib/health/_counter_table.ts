/**
 * The counters `/metrics` exports from the status, as tables: every counter the stream keeps in
 * status.json is listed here or exported with labels in `metrics.ts`. Also the unlabelled gauges
 * read straight from the status.
 */

import type { MarketStatus, StreamStatus } from "../runtime/status.ts";
import type { RestStatus } from "../domain.ts";

/** Counters of the whole stream: name, help, value in the status (absent in older files: 0). */
export const SCALAR_COUNTERS: [string, string, (s: StreamStatus) => number | undefined][] = [
  [
    "btcfeed_fenced_writes_total",
    "Writes refused by a newer writer's fence (feeder group): this feeder stepped back.",
    (s) => s.counters.fenced,
  ],
  [
    "btcfeed_lease_acquisitions_total",
    "Times this feeder took its group's writer lease (0 outside a group).",
    (s) => s.group?.acquisitions ?? 0,
  ],
  [
    "btcfeed_trades_received_total",
    "Trades received from all exchanges.",
    (s) => s.counters.tradesReceived,
  ],
  [
    "btcfeed_replayed_total",
    "Trades replayed from the outbox into the primary.",
    (s) => s.counters.replayed,
  ],
  [
    "btcfeed_failovers_total",
    "Switches from the primary to the failover path.",
    (s) => s.counters.failovers,
  ],
  [
    "btcfeed_dropped_trades_total",
    "Trades dropped because the outbox was full or the disk failed (each logged).",
    (s) => s.counters.dropped,
  ],
  [
    "btcfeed_out_of_order_total",
    "Trades older than a market's newest stream entry, reported instead of appended.",
    (s) => s.counters.outOfOrder,
  ],
  [
    "btcfeed_duplicates_total",
    "Re-applied trades that changed nothing.",
    (s) => s.counters.duplicates,
  ],
  [
    "btcfeed_mirror_dropped_total",
    "Trades that skipped the failover Redis mirror because its backlog was full (the outbox has them).",
    (s) => s.counters.mirrorDropped,
  ],
  [
    "btcfeed_outlier_events_total",
    "Times a market was newly left out of the consolidated price as an outlier.",
    (s) => s.counters.outlierEvents,
  ],
  [
    "btcfeed_replica_shortfalls_total",
    "Primary writes fewer than --primary-replicas replicas confirmed (the trades stay pending and are re-sent).",
    (s) => s.counters.replicaShortfalls,
  ],
  [
    "btcfeed_primary_resets_total",
    "Markets found behind the journal on the primary: it lost trades it had acknowledged.",
    (s) => s.counters.primaryResets ?? 0,
  ],
  [
    "btcfeed_reconciled_trades_total",
    "Journaled trades re-applied to a primary that had lost them.",
    (s) => s.counters.reconciledTrades ?? 0,
  ],
];

/** Counters per market: name, help, value in the market's status. */
export const MARKET_COUNTERS: [string, string, (m: MarketStatus) => number | undefined][] = [
  ["btcfeed_trades_total", "Trades accepted per market.", (m) => m.trades],
  ["btcfeed_market_reconnects_total", "WebSocket reconnects per market.", (m) => m.reconnects],
  [
    "btcfeed_market_handovers_total",
    "Planned, overlapping connection replacements per market.",
    (m) => m.handovers,
  ],
  ["btcfeed_market_gaps_total", "Source gaps found per market.", (m) => m.gaps],
  [
    "btcfeed_market_gaps_backfilled_total",
    "Source gaps filled from the exchange's REST history per market.",
    (m) => m.gapsBackfilled,
  ],
  [
    "btcfeed_market_duplicates_total",
    "Trades dropped by the feed because they were already delivered, per market.",
    (m) => m.duplicates,
  ],
  [
    "btcfeed_market_clock_adjusted_total",
    "Entry IDs moved past their trade time to stay increasing, per market.",
    (m) => m.clockAdjusted,
  ],
];

/** Gauges per market of the gap it is recovering; absent (undefined) while none is pending. */
export const MARKET_GAP_GAUGES: [string, string, (m: MarketStatus) => number | undefined][] = [
  [
    "btcfeed_market_gap_pending",
    "1 while a market has a gap pending (being backfilled, kept across restarts), else 0.",
    (m) => m.recovering ? 1 : 0,
  ],
  [
    "btcfeed_market_gap_start_time_seconds",
    "When the market's pending gap was first detected, seconds since the epoch (kept across restarts).",
    (m) => m.recovering ? m.recovering.startedAt / 1000 : undefined,
  ],
  [
    "btcfeed_market_gap_recovered",
    "Trades recovered so far of the market's pending gap.",
    (m) => m.recovering?.recovered,
  ],
  [
    "btcfeed_market_gap_remaining",
    "Trades still to recover of the market's pending gap (absent while unknown: a catch-up).",
    (m) => m.recovering?.remaining ?? undefined,
  ],
  [
    "btcfeed_market_held_trades",
    "Live trades held behind the market's pending gap (on disk beyond a small window).",
    (m) => m.recovering?.held,
  ],
];

/** Counters per exchange's REST backfill budget: name, help, value (see `RestStatus`). */
export const REST_COUNTERS: [string, string, (r: RestStatus) => number][] = [
  ["btcfeed_rest_requests_total", "REST backfill requests sent, per exchange.", (r) => r.requests],
  [
    "btcfeed_rest_rate_limited_total",
    "REST rate-limit replies (429, Kraken's rate-limit body), per exchange.",
    (r) => r.rateLimited,
  ],
  ["btcfeed_rest_bans_total", "REST bans (HTTP 418), per exchange.", (r) => r.bans],
  [
    "btcfeed_rest_retries_total",
    "Retried REST failures (5xx, timeouts, network errors), per exchange.",
    (r) => r.retries,
  ],
];

/** Unlabelled gauges of the whole stream: name, help, value in the status. */
export const SCALAR_GAUGES: [string, string, (s: StreamStatus) => number][] = [
  ["btcfeed_forced", "1 while failover is forced by `btcfeed failover`.", (s) => s.forced ? 1 : 0],
  ["btcfeed_outbox_depth", "Trades waiting in the outbox.", (s) => s.outbox.depth],
  [
    "btcfeed_pending_gaps",
    "Gaps pending (being backfilled), one per market at most.",
    (s) => Object.values(s.markets).filter((m) => m.recovering).length,
  ],
  ["btcfeed_outbox_bytes", "Size of the outbox on disk.", (s) => s.outbox.bytes],
  ["btcfeed_outbox_max_trades", "The outbox's limit in trades.", (s) => s.outbox.maxTrades],
  [
    "btcfeed_outbox_dead_letters",
    "Rows the primary rejected (out-of-order, or refused: a key's type), kept for a retry.",
    (s) => s.outbox.deadLetters ?? 0,
  ],
  ["btcfeed_outbox_full", "1 while the outbox is at its limit.", (s) => s.outbox.full ? 1 : 0],
  [
    "btcfeed_outbox_error",
    "1 while the outbox reports a disk error.",
    (s) => s.outbox.lastError ? 1 : 0,
  ],
  [
    "btcfeed_lease_epoch",
    "The fencing epoch this feeder writes with while it is its group's writer, else 0.",
    (s) => s.group?.epoch ?? 0,
  ],
  [
    "btcfeed_group_feeders",
    "Live feeders of this feeder's group, as it last saw them (0 outside a group).",
    (s) => s.group?.members.length ?? 0,
  ],
  [
    "btcfeed_group_writer_present",
    "1 while some feeder of the group holds the writer lease, as this one last read it.",
    (s) => s.group?.writer ? 1 : 0,
  ],
  [
    "btcfeed_sync_done",
    "Trades replayed in the current sync (0 when not syncing).",
    (s) => s.sync?.done ?? 0,
  ],
  [
    "btcfeed_sync_total",
    "Trades to replay in the current sync (0 when not syncing).",
    (s) => s.sync?.total ?? 0,
  ],
];
