/**
 * Fuzz: every parser against more than 10,000 random and mutated messages.
 * Guarantees checked: no parser throws; every trade produced is valid; after a structural mutation
 * every trade produced equals a trade of the original message, and a trade that disappears is
 * accounted for by at least one reject; every reject carries a known reason and a short sample.
 */

import assert from "node:assert/strict";
import type { ExchangeAdapter, ParseResult } from "../../lib/exchanges/adapter.ts";
import { MAX_TRADE_MS, MIN_TRADE_MS } from "../../lib/trade.ts";
import { ADAPTERS, EXCHANGE_NAMES } from "../../lib/exchanges/registry.ts";
import {
  isPositiveDecimal,
  isTradeIdText,
  type Market,
  marketName,
  type RawTrade,
} from "../../lib/trade.ts";
import { seededRandom } from "../support/rng.ts";
import { sampleMessages } from "../support/fake_protocols/samples.ts";
import { KNOWN_BAD_MESSAGES } from "./known_bad_messages.ts";
import { mutate, type MutationKind, STRUCTURAL } from "./_mutate.ts";

const REASONS = new Set([
  "invalid_json",
  "wrong_type",
  "bad_price",
  "bad_size",
  "bad_time",
  "bad_trade_id",
  "bad_side",
  "wrong_market",
  "unknown_event",
]);
const KINDS: MutationKind[] = [
  "truncate",
  "type_swap",
  "bad_number",
  "delete_field",
  "random_bytes",
];
const MUTATIONS_PER_SEED = 60;
const RECEIVED_AT = 1_785_312_399_999;

function assertValidTrade(t: RawTrade, market: Market, context: string): void {
  assert.equal(t.market, marketName(market), context);
  assert.ok(isTradeIdText(t.tradeId), `trade id ${t.tradeId}: ${context}`);
  assert.ok(isPositiveDecimal(t.price), `price ${t.price}: ${context}`);
  assert.ok(isPositiveDecimal(t.size), `size ${t.size}: ${context}`);
  assert.ok(t.side === "buy" || t.side === "sell", context);
  assert.ok(Number.isSafeInteger(t.ts) && t.ts >= MIN_TRADE_MS && t.ts <= MAX_TRADE_MS, context);
  assert.equal(t.receivedAt, RECEIVED_AT, context);
  assert.deepEqual(Object.keys(t).sort(), [
    "market",
    "price",
    "receivedAt",
    "side",
    "size",
    "tradeId",
    "ts",
  ]);
}

function run(
  parse: () => ParseResult,
  market: Market,
  text: string,
  tally: Map<string, number>,
): ParseResult {
  let r: ParseResult;
  try {
    r = parse();
  } catch (e) {
    throw new Error(`parser threw on ${JSON.stringify(text.slice(0, 300))}: ${e}`);
  }
  for (const t of r.trades) assertValidTrade(t, market, text.slice(0, 300));
  for (const x of r.rejects) {
    assert.ok(REASONS.has(x.reason), x.reason);
    assert.ok(typeof x.sample === "string" && x.sample.length <= 200);
    tally.set(x.reason, (tally.get(x.reason) ?? 0) + 1);
  }
  return r;
}

function fuzzOne(
  adapter: ExchangeAdapter,
  parse: (text: string) => ParseResult,
  market: Market,
  seeds: string[],
  seed: number,
  tally: Map<string, number>,
): number {
  const rnd = seededRandom(seed);
  let count = 0;
  for (const original of seeds) {
    const base = run(() => parse(original), market, original, tally);
    const byId = new Map(base.trades.map((t) => [t.tradeId, t]));
    for (let i = 0; i < MUTATIONS_PER_SEED; i++) {
      const kind = KINDS[i % KINDS.length];
      const text = mutate(original, kind, rnd);
      if (text === null) continue;
      count++;
      const r = run(() => parse(text), market, text, tally);
      if (!STRUCTURAL.has(kind)) continue;
      for (const t of r.trades) {
        assert.deepEqual(
          t,
          byId.get(t.tradeId),
          `${adapter.name} ${kind} changed a trade: ${text.slice(0, 300)}`,
        );
      }
      if (r.trades.length < base.trades.length) {
        assert.ok(
          r.rejects.length > 0,
          `${adapter.name} ${kind} lost a trade silently: ${text.slice(0, 300)}`,
        );
      }
    }
  }
  return count;
}

function randomText(rnd: () => number): string {
  const atoms = [
    '"e"',
    '"trade"',
    '"p"',
    '"data"',
    "1",
    "-1",
    "1e999",
    "null",
    "true",
    '"BTCUSDT"',
    '"117250.1"',
    "{",
    "}",
    "[",
    "]",
    ",",
    ":",
    '"',
  ];
  let s = rnd() < 0.5 ? "{" : "";
  const n = Math.floor(rnd() * 40);
  for (let i = 0; i < n; i++) {
    s += rnd() < 0.8
      ? atoms[Math.floor(rnd() * atoms.length)]
      : String.fromCharCode(Math.floor(rnd() * 0xffff));
  }
  return s;
}

for (const name of EXCHANGE_NAMES) {
  Deno.test(`${name}: mutated and random messages never throw, never yield invalid or altered trades`, () => {
    const adapter = ADAPTERS[name];
    const s = sampleMessages(name, 150);
    const market = s.market;
    const tally = new Map<string, number>();
    const parse = (t: string) => adapter.parse(t, market, RECEIVED_AT);
    for (let i = 0; i < s.messages.length; i++) {
      assert.deepEqual(
        parse(s.messages[i]).trades,
        s.trades[i].map((t) => ({ ...t, receivedAt: RECEIVED_AT })),
      );
    }
    let total = fuzzOne(
      adapter,
      parse,
      market,
      [...s.messages.slice(0, 30), ...s.control],
      1 + name.length,
      tally,
    );
    if (adapter.rest && s.restPage) {
      const page = (t: string) => adapter.rest!.parsePage(t, market, RECEIVED_AT);
      assert.equal(page(s.restPage).trades.length, 150);
      const small = sampleMessages(name, 4).restPage!;
      total += fuzzOne(adapter, page, market, [small], 99, tally);
    }
    const rnd = seededRandom(7 * name.length);
    for (let i = 0; i < 400; i++, total++) {
      const text = randomText(rnd);
      run(() => parse(text), market, text, tally);
      if (adapter.rest) {
        run(() => adapter.rest!.parsePage(text, market, RECEIVED_AT), market, text, tally);
      }
    }
    assert.ok(total >= 2000, `${name}: ${total} fuzzed inputs`);
    assert.ok((tally.get("invalid_json") ?? 0) > 0 && tally.size >= 5, JSON.stringify([...tally]));
    console.log(`${name}: ${total} inputs, rejects ${JSON.stringify(Object.fromEntries(tally))}`);
  });
}

Deno.test("known bad messages stay rejected with their recorded reasons", () => {
  for (const k of KNOWN_BAD_MESSAGES) {
    const adapter = ADAPTERS[k.exchange];
    const market: Market = { exchange: k.exchange, ...adapter.defaultMarket };
    const r = k.rest
      ? adapter.rest!.parsePage(k.text, market, RECEIVED_AT)
      : adapter.parse(k.text, market, RECEIVED_AT);
    assert.equal(r.trades.length, k.trades ?? 0, k.why);
    assert.deepEqual(r.rejects.map((x) => x.reason), k.reasons, k.why);
  }
});
