/**
 * Shared pieces of the feed tests: a collecting sink, polling waits, and the tape comparison that
 * every fake-exchange test uses as its oracle.
 */

import assert from "node:assert/strict";
import type { ExchangeAdapter } from "../../lib/exchanges/adapter.ts";
import { adapterFor } from "../../lib/exchanges/registry.ts";
import { Feed, type FeedOptions, type GapRecord } from "../../lib/feed/feed.ts";
import type { BackfillSink } from "../../lib/feed/backfill.ts";
import { log } from "../../lib/log.ts";
import { compareEntryIds, type RawTrade, type Trade } from "../../lib/trade.ts";
import type { FakeExchange } from "../support/fake_exchange.ts";

/** Log lines written by the feed, captured (JSON) instead of going to stderr. */
export const logLines: string[] = [];
log.configure({ format: "json", level: "info", write: (l) => logLines.push(l) });

/** Parsed captured log lines with `event`. */
export function logged(event: string): Record<string, unknown>[] {
  return logLines.map((l) => JSON.parse(l)).filter((o) => o.event === event);
}

export function adapter(name: string): ExchangeAdapter {
  const a = adapterFor(name);
  if (!a) throw new Error(`no adapter ${name}`);
  return a;
}

/** Fast timings for tests: quick reconnects, no 23 h waits. */
export const FAST: FeedOptions["connection"] = {
  backoff: { initialMs: 20, maxMs: 200, stableAfterMs: 1_000 },
  staleAfterMs: 2_000,
  connectTimeoutMs: 2_000,
  handoverTimeoutMs: 1_000,
};

export interface Collected {
  trades: Trade[];
  gaps: GapRecord[];
  byMarket(market: string): Trade[];
}

/** A feed over `fakes` that collects what it delivers. */
export function feedFor(
  fakes: FakeExchange[],
  extra: Partial<FeedOptions> = {},
): { feed: Feed; got: Collected } {
  logLines.length = 0;
  const got: Collected = {
    trades: [],
    gaps: [],
    byMarket: (m) => got.trades.filter((t) => t.market === m),
  };
  const feed = new Feed({
    markets: fakes.map((f) => ({
      market: f.market,
      adapter: adapter(f.market.exchange),
      wsUrl: f.wsUrl,
      restUrl: f.restUrl,
    })),
    onTrades: (t) => void got.trades.push(...t),
    onGap: (g) => void got.gaps.push(g),
    connection: FAST,
    ...extra,
  });
  return { feed, got };
}

/** Polls `pred` until true; fails with `what` after `timeoutMs`. */
export async function waitFor(pred: () => boolean, what: string, timeoutMs = 8_000) {
  const until = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/**
 * Asserts `trades` are exactly `tape` (every field but receivedAt and the backfill's `late`
 * flag), in order, IDs increasing.
 */
export function assertExactlyTape(trades: Trade[], tape: RawTrade[]) {
  const ids = trades.map((t) => t.tradeId);
  assert.equal(new Set(ids).size, ids.length, "no duplicates");
  for (let i = 1; i < trades.length; i++) {
    assert.equal(compareEntryIds(trades[i - 1].id, trades[i].id), -1, `entry IDs increase at ${i}`);
  }
  const strip = ({ receivedAt: _r, ...rest }: RawTrade) => rest;
  if (trades.length !== tape.length) {
    const have = new Set(ids);
    const lost = tape.filter((t) => !have.has(t.tradeId)).map((t) => t.tradeId);
    assert.fail(`got ${trades.length} of ${tape.length} trades; first lost: ${lost.slice(0, 5)}`);
  }
  for (let i = 0; i < tape.length; i++) {
    const { id: _id, late: _late, ...t } = trades[i];
    assert.deepEqual(strip(t), strip(tape[i]), `trade ${i}`);
  }
}

/** A sink that keeps every page, and the largest page seen. */
export function collecting(): BackfillSink & { got: RawTrade[]; largestPage: number } {
  const s = {
    got: [] as RawTrade[],
    largestPage: 0,
    trades(page: RawTrade[]) {
      s.got.push(...page);
      s.largestPage = Math.max(s.largestPage, page.length);
    },
    rejects() {},
  };
  return s;
}
