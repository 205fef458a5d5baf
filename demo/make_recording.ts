/**
 * Generates demo/recording.ndjson, the recording `btcfeed demo` plays: three minutes of all six
 * exchanges in their real wire formats (rendered by the fake protocols the tests check against
 * the adapters), with subscription acks and heartbeats, one Binance trade-id gap and two
 * malformed messages. Deterministic: the same code always writes the same bytes.
 *
 * Run: `deno run --allow-read --allow-env --allow-write=demo demo/make_recording.ts` (rewrites the committed file; the
 * demo test fails when the committed file and this generator disagree).
 */

import FakeTimers from "@sinonjs/fake-timers";
import { FAKE_PROTOCOLS } from "../tests/support/fake_protocols/all.ts";
import type { Session } from "../tests/support/fake_protocols/protocol.ts";
import { makeTape, type TapeEntry } from "../tests/support/fake_protocols/tape.ts";
import { normalizedTape } from "../tests/support/fake_exchange.ts";
import { seededRandom } from "../tests/support/rng.ts";
import { type Market, marketName, type RawTrade } from "../lib/trade.ts";

/** 2025-01-15T12:00:00Z: where the recording starts. */
const START_MS = 1_736_942_400_000;
const SPAN_MS = 180_000;
const HEARTBEAT_EVERY_MS = 10_000;
/** Trades per exchange and trades per message (within each protocol's maximum). */
const PLAN: Record<string, { trades: number; perMessage: number; priceOffset: number }> = {
  binance: { trades: 240, perMessage: 1, priceOffset: 0 },
  coinbase: { trades: 200, perMessage: 3, priceOffset: 12 },
  kraken: { trades: 150, perMessage: 2, priceOffset: -8 },
  bitstamp: { trades: 90, perMessage: 1, priceOffset: 5 },
  okx: { trades: 160, perMessage: 2, priceOffset: 2 },
  bybit: { trades: 160, perMessage: 4, priceOffset: -3 },
};
/** Binance trade ids the recording never received (a contiguous run: one id gap). */
export const GAP = { exchange: "binance", fromIndex: 120, missing: 7 } as const;

/** One recorded line. */
export interface RecordedLine {
  t: number;
  market: string;
  msg: string;
}

/** The recording and what it stands for. */
export interface DemoRecording {
  lines: RecordedLine[];
  /** Per market, the trades the recording delivers, in trade order. */
  trades: Record<string, RawTrade[]>;
  /** Per market, the quarantine reasons of its malformed messages. */
  malformed: Record<string, Record<string, number>>;
  /** The Binance gap: the trades either side and how many ids are missing. */
  gap: { market: string; after: RawTrade; before: RawTrade; missing: number };
}

/** Builds the recording (pure: no file is touched). */
export function makeDemoRecording(): DemoRecording {
  const clock = FakeTimers.withGlobal(globalThis).install({ now: START_MS, toFake: ["Date"] });
  try {
    const lines: RecordedLine[] = [];
    const trades: Record<string, RawTrade[]> = {};
    let gap: DemoRecording["gap"] | null = null;
    Object.keys(PLAN).forEach((exchange, i) => {
      const out = exchangeLines(exchange, i + 1, clock);
      lines.push(...out.lines);
      trades[out.market] = out.trades;
      gap ??= out.gap;
    });
    const malformed = addMalformed(lines);
    lines.sort((a, b) => a.t - b.t); // stable: each market's own order is kept
    return { lines, trades, malformed, gap: gap! };
  } finally {
    clock.uninstall();
  }
}

function exchangeLines(
  exchange: string,
  seed: number,
  clock: { setSystemTime(now: number): void },
) {
  const p = FAKE_PROTOCOLS[exchange];
  const plan = PLAN[exchange];
  const market: Market = { exchange, ...p.defaultMarket };
  const name = marketName(market);
  const rnd = seededRandom(seed * 7919);
  const tape = spread(
    makeTape({
      count: plan.trades,
      startTradeId: p.defaultStartTradeId,
      seed,
      startMicros: 0,
      priceOffset: plan.priceOffset,
    }),
  );
  const isGap = exchange === GAP.exchange;
  const sent = isGap
    ? [...tape.slice(0, GAP.fromIndex), ...tape.slice(GAP.fromIndex + GAP.missing)]
    : tape;
  const session: Session = { subscribed: false, heartbeats: false, flags: {} };
  const lines: RecordedLine[] = [];
  const at = (t: number, render: () => string) => {
    clock.setSystemTime(t);
    lines.push({ t, market: name, msg: render() });
  };
  clock.setSystemTime(START_MS + 40);
  for (const msg of greeting(exchange, market, session)) at(START_MS + 40, () => msg);
  let nextBeat = START_MS + HEARTBEAT_EVERY_MS;
  for (let i = 0; i < sent.length; i += plan.perMessage) {
    const batch = sent.slice(i, i + plan.perMessage);
    const t = Math.floor(batch[batch.length - 1].tsMicros / 1000) + 20 + Math.floor(rnd() * 80);
    for (; nextBeat < t; nextBeat += HEARTBEAT_EVERY_MS) {
      const beat = keepAlive(exchange, market, session);
      if (beat) at(nextBeat, beat);
    }
    at(t, () => p.encode(batch, market, session, false));
  }
  const normalized = normalizedTape(p, tape, market);
  const delivered = isGap
    ? [...normalized.slice(0, GAP.fromIndex), ...normalized.slice(GAP.fromIndex + GAP.missing)]
    : normalized;
  const gap = isGap
    ? {
      market: name,
      after: normalized[GAP.fromIndex - 1],
      before: normalized[GAP.fromIndex + GAP.missing],
      missing: GAP.missing,
    }
    : null;
  return { market: name, lines, trades: delivered, gap };
}

/** The tape's trades spread evenly over the recording (µs), keeping their sub-ms variety. */
function spread(tape: TapeEntry[]): TapeEntry[] {
  const step = Math.floor((SPAN_MS * 1000) / tape.length);
  return tape.map((e, i) => ({
    ...e,
    tsMicros: (START_MS + 1_000) * 1000 + i * step + (e.tsMicros % 997),
  }));
}

/** What the server sends right after connecting and subscribing. */
function greeting(exchange: string, market: Market, session: Session): string[] {
  const p = FAKE_PROTOCOLS[exchange];
  const open = p.open(new URL(`http://exchange${p.wsBasePath || "/ws"}`), market, session);
  const replies = subscribeRequests(exchange, market).flatMap((req) =>
    p.message(req, market, session).send
  );
  return [...(open?.send ?? []), ...replies];
}

/** The periodic keep-alive the server sends (or answers), or null when it has none. */
function keepAlive(exchange: string, market: Market, session: Session): (() => string) | null {
  const p = FAKE_PROTOCOLS[exchange];
  if (p.heartbeat) return () => p.heartbeat!(market, session);
  const ping: Record<string, string> = { okx: "ping", bybit: `{"op":"ping"}` };
  return ping[exchange] ? () => p.message(ping[exchange], market, session).send[0] : null;
}

function subscribeRequests(exchange: string, m: Market): string[] {
  const pair = `${m.base}-${m.quote}`;
  const lower = `${m.base}${m.quote}`.toLowerCase();
  const requests: Record<string, string[]> = {
    binance: [`{"method":"SUBSCRIBE","params":["${lower}@trade"],"id":1}`],
    coinbase: ["market_trades", "heartbeats"].map((c) =>
      `{"type":"subscribe","product_ids":["${pair}"],"channel":"${c}"}`
    ),
    kraken: [
      `{"method":"subscribe","params":{"channel":"trade","symbol":["${m.base}/${m.quote}"],"snapshot":false},"req_id":1}`,
    ],
    bitstamp: [`{"event":"bts:subscribe","data":{"channel":"live_trades_${lower}"}}`],
    okx: [`{"op":"subscribe","args":[{"channel":"trades","instId":"${pair}"}]}`],
    bybit: [`{"req_id":"1","op":"subscribe","args":["publicTrade.${m.base}${m.quote}"]}`],
  };
  return requests[exchange];
}

/**
 * Two broken messages, each beside a good one so no trade is lost: an OKX push cut off
 * mid-JSON, and a Binance trade whose price is not a number (the real trade follows it).
 */
function addMalformed(lines: RecordedLine[]): DemoRecording["malformed"] {
  const okx = lines.filter((l) => l.market === "okx:BTC-USDT" && l.msg.includes('"data"'))[40];
  lines.push({ t: okx.t + 1, market: okx.market, msg: okx.msg.slice(0, 90) });
  const binance = lines.filter((l) => l.market === "binance:BTC-USDT" && l.msg.includes('"p"'))[60];
  lines.push({
    t: binance.t - 1,
    market: binance.market,
    msg: binance.msg.replace(/"p":"[^"]*"/, `"p":"1.17e5x"`),
  });
  return { [okx.market]: { invalid_json: 1 }, [binance.market]: { bad_price: 1 } };
}

/** The recording as file text (NDJSON, as `--record` writes it). */
export function recordingText(recording: DemoRecording): string {
  return recording.lines.map((l) => JSON.stringify({ t: l.t, market: l.market, msg: l.msg }))
    .join("\n") + "\n";
}

if (import.meta.main) {
  const file = new URL("./recording.ndjson", import.meta.url);
  const recording = makeDemoRecording();
  await Deno.writeTextFile(file, recordingText(recording));
  console.log(`${recording.lines.length} lines written to ${file.pathname}`);
}
