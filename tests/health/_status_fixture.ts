/** Stream status snapshots for the health and monitor tests, at a fixed clock. */

import type { MarketStatus, StreamStatus } from "../../lib/runtime/status.ts";

/** 2025-01-15T12:00:00Z */
export const NOW = Date.UTC(2025, 0, 15, 12, 0, 0);

/** A live market whose last trade is `ageMs` old, with a rising price history. */
export function market(
  price: string,
  ageMs = 1_000,
  over: Partial<MarketStatus> = {},
  now = NOW,
): MarketStatus {
  const base = Number(price);
  const history: [number, string][] = Array.from({ length: 24 }, (_, i) => [
    now - (24 - i) * 5_000,
    (base - 24 + i + (i % 3 === 0 ? 2 : 0)).toFixed(2),
  ]);
  return {
    state: "live",
    last: {
      price,
      size: "0.01200",
      side: "buy",
      tradeId: "12345",
      ts: now - ageMs,
      receivedAt: now - ageMs + 40,
    },
    trades: 1234,
    tradeRate: 12.5,
    reconnects: 0,
    handovers: 0,
    duplicates: 0,
    clockAdjusted: 0,
    gaps: 0,
    gapsBackfilled: 0,
    quarantined: {},
    outlier: false,
    history,
    lastError: null,
    ...over,
  };
}

/**
 * A healthy stream on the primary with three fresh markets at clock `now`; `over` replaces
 * top-level fields.
 */
export function status(over: Partial<StreamStatus> = {}, now = NOW): StreamStatus {
  return {
    version: 1,
    pid: 4242,
    startedAt: now - 3_723_000,
    heartbeatAt: now - 400,
    mode: "primary",
    forced: false,
    transitions: [],
    counters: {
      tradesReceived: 3702,
      writtenPrimary: 3702,
      writtenFailover: 0,
      outboxAppended: 0,
      replayed: 0,
      duplicates: 0,
      outOfOrder: 0,
      dropped: 0,
      failovers: 0,
      mirrorDropped: 0,
      outlierEvents: 0,
      replicaShortfalls: 0,
      primaryResets: 0,
      reconciledTrades: 0,
      fenced: 0,
    },
    gapRecords: { written: 0, failed: 0, unstored: 0 },
    outbox: {
      depth: 0,
      bytes: 0,
      maxTrades: 10_000_000,
      full: false,
      lastError: null,
      deadLetters: 0,
    },
    sync: null,
    primary: { url: "redis://127.0.0.1:6390", healthy: true, latencyMs: 0.42, lastError: null },
    failover: { url: "redis://127.0.0.1:6391", healthy: true, latencyMs: 0.31, lastError: null },
    markets: {
      "binance:BTC-USDT": market("117250.10", 1_000, {}, now),
      "coinbase:BTC-USD": market("117261.55", 2_500, {}, now),
      "kraken:BTC-USD": market("117248.9", 4_000, {}, now),
    },
    consolidatedMarket: "binance:BTC-USDT",
    ...over,
  };
}
