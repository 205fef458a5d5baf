/** What `btcfeed demo` prints: progress lines off a terminal, and the closing summary. */

import type { StreamStatus } from "../runtime/status.ts";
import { btcLastKey, marketKeys, tradesChannel } from "../redis/keys.ts";

/** One plain progress line from the stream's status. */
export function progressLine(s: StreamStatus | null): string {
  if (!s) return "demo: starting the stream…";
  const markets = Object.values(s.markets);
  const trades = markets.reduce((n, m) => n + m.trades, 0);
  const gaps = markets.reduce((n, m) => n + m.gaps, 0);
  const quarantined = markets.reduce((n, m) => n + sum(m.quarantined), 0);
  const price = s.consolidatedMarket ? s.markets[s.consolidatedMarket]?.last?.price : undefined;
  return `demo: ${trades} trades from ${markets.length} markets, mode ${s.mode}, ` +
    `written ${s.counters.writtenPrimary}, outbox ${s.outbox.depth}, gaps ${gaps}, ` +
    `quarantined ${quarantined}${price ? `, BTC ${price} (${s.consolidatedMarket})` : ""}`;
}

/** What the run did, per market, from the final status. */
export function resultLines(s: StreamStatus | null): string[] {
  if (!s) return ["demo: the stream wrote no status"];
  const lines = ["demo: the recording went through the pipeline:"];
  for (const [name, m] of Object.entries(s.markets)) {
    const q = Object.entries(m.quarantined).map(([r, n]) => `${n} ${r}`).join(", ");
    lines.push(
      `  ${name.padEnd(18)} ${String(m.trades).padStart(4)} trades, ${m.gaps} gap(s)` +
        (q ? `, quarantined: ${q}` : ""),
    );
  }
  return lines;
}

/** The `redis-cli` commands that read what the demo wrote. */
export function redisCliLines(port: number, prefix: string, market: string): string[] {
  const cli = `redis-cli -p ${port}`;
  const keys = marketKeys(prefix, market);
  return [
    "Read what it wrote:",
    `  ${cli} XREVRANGE '${keys.trades}' + - COUNT 5`,
    `  ${cli} HGETALL ${btcLastKey(prefix)}`,
    `  ${cli} XRANGE '${keys.gaps}' - +`,
    `  ${cli} SUBSCRIBE ${tradesChannel(prefix)}`,
  ];
}

function sum(counts: Record<string, number>): number {
  return Object.values(counts).reduce((a, b) => a + b, 0);
}
