/**
 * Parse throughput of our exchange adapters against ccxt's WebSocket message handlers on the same
 * messages, offline (synthetic market metadata, a stub client, no network). Both sides do the whole
 * job from message text to normalized trades: JSON parsing included. ccxt's numbers are floats and
 * its Coinbase side is reported as sent (the maker's), so equal output is not implied, only equal work.
 */

import ccxt from "ccxt";
import { ADAPTERS, EXCHANGE_NAMES } from "../lib/exchanges/registry.ts";
import { sampleMessages } from "../tests/support/fake_protocols/samples.ts";

const TRADES = 20_000;
const MEASURE_MS = 300;

const CCXT_MARKETS: Record<string, { id: string; url: string }> = {
  binance: { id: "BTCUSDT", url: "wss://stream.binance.com:9443/ws" },
  coinbase: { id: "BTC-USD", url: "wss://advanced-trade-ws.coinbase.com" },
  kraken: { id: "XXBTZUSD", url: "wss://ws.kraken.com/v2" },
  bitstamp: { id: "btcusd", url: "wss://ws.bitstamp.net" },
  okx: { id: "BTC-USDT", url: "wss://ws.okx.com:8443/ws/v5/public" },
  bybit: { id: "BTCUSDT", url: "wss://stream.bybit.com/v5/public/spot" },
};

/** Messages per second of `fn` over `messages`, run repeatedly for about MEASURE_MS. */
function throughput(messages: string[], fn: (text: string) => void): number {
  for (const m of messages.slice(0, 2000)) fn(m); // warm-up
  let done = 0;
  const start = performance.now();
  let elapsed = 0;
  while (elapsed < MEASURE_MS) {
    for (const m of messages) fn(m);
    done += messages.length;
    elapsed = performance.now() - start;
  }
  return (done / elapsed) * 1000;
}

// deno-lint-ignore no-explicit-any
type CcxtExchange = any;

function ccxtHandler(name: string, base: string, quote: string): (text: string) => void {
  const m = CCXT_MARKETS[name];
  const ex: CcxtExchange = new (ccxt.pro as Record<string, new (o: object) => CcxtExchange>)[name](
    {},
  );
  ex.setMarkets([{
    id: m.id,
    symbol: `${base}/${quote}`,
    base,
    quote,
    baseId: base,
    quoteId: quote,
    wsId: `${base}/${quote}`,
    type: "spot",
    spot: true,
    active: true,
    precision: { amount: 1e-8, price: 0.01 },
    limits: {},
    info: {},
  }]);
  const client = {
    url: m.url,
    resolve() {},
    reject() {},
    subscriptions: {},
    futures: {},
    messages: [],
  };
  return (text: string) => ex.handleMessage(client, JSON.parse(text));
}

const fmt = (n: number) => Math.round(n).toLocaleString("en-US").padStart(11);

/** Runs the benchmark and prints one line per exchange with the ratio ours / ccxt. */
export async function run(): Promise<void> {
  console.log(`parse throughput, ${TRADES} trades per exchange, ~${MEASURE_MS} ms per side`);
  console.log(
    `${"exchange".padEnd(9)} ${"trades/msg".padStart(10)} ${"ours msg/s".padStart(11)} ${
      "ours tr/s".padStart(11)
    } ${"ccxt msg/s".padStart(11)} ${"ccxt tr/s".padStart(11)} ${"ratio".padStart(6)}`,
  );
  for (const name of EXCHANGE_NAMES) {
    const adapter = ADAPTERS[name];
    const s = sampleMessages(name, TRADES);
    const perMessage = TRADES / s.messages.length;
    const ours = throughput(s.messages, (t) => {
      adapter.parse(t, s.market, 0);
    });
    const theirs = throughput(s.messages, ccxtHandler(name, s.market.base, s.market.quote));
    console.log(
      `${name.padEnd(9)} ${perMessage.toFixed(1).padStart(10)} ${fmt(ours)} ${
        fmt(ours * perMessage)
      } ${fmt(theirs)} ${fmt(theirs * perMessage)} ${(ours / theirs).toFixed(2).padStart(5)}x`,
    );
    await new Promise((r) => setTimeout(r, 0));
  }
}

if (import.meta.main) await run();
