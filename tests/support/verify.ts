/**
 * Trade-by-trade verification of what a market's Redis keys hold against the exchange's tape:
 * the one oracle every end-to-end and chaos test uses.
 */

import type { Redis } from "ioredis";
import type { RawTrade } from "../../lib/trade.ts";
import { marketKeys } from "../../lib/redis/keys.ts";

export interface Verdict {
  expected: number;
  present: number;
  lost: number;
  duplicated: number;
  reordered: number;
  /** Entries whose fields differ from the tape (first few described). */
  mismatched: string[];
  /** Minutes whose candle volume or count differs from the trades'. */
  badCandles: string[];
  /** Problems with the `last` hash. */
  badLast: string | null;
}

/** Exact sum of non-negative decimal strings. */
export function decimalSum(values: string[]): string {
  let scale = 0;
  for (const v of values) scale = Math.max(scale, (v.split(".")[1] ?? "").length);
  let total = 0n;
  for (const v of values) {
    const [i, f = ""] = v.split(".");
    total += BigInt(i + f.padEnd(scale, "0"));
  }
  const s = total.toString().padStart(scale + 1, "0");
  return scale ? `${s.slice(0, -scale)}.${s.slice(-scale)}` : s;
}

/** Canonical decimal text (no trailing fractional zeros) so sums compare by value. */
export function canonicalDecimal(s: string): string {
  if (!s.includes(".")) return s;
  const t = s.replace(/0+$/, "").replace(/\.$/, "");
  return t === "" ? "0" : t;
}

/** Compares the market's stream, `last` hash and candles with `tape` (all trades expected). */
export async function verifyMarket(
  redis: Redis,
  prefix: string,
  tape: RawTrade[],
): Promise<Verdict> {
  const market = tape[0].market;
  const keys = marketKeys(prefix, market);
  const entries = (await redis.xrange(keys.trades, "-", "+")) as [string, string[]][];
  const byId = new Map(tape.map((t, i) => [t.tradeId, i]));
  const seen = new Map<string, number>();
  const verdict: Verdict = {
    expected: tape.length,
    present: 0,
    lost: 0,
    duplicated: 0,
    reordered: 0,
    mismatched: [],
    badCandles: [],
    badLast: null,
  };
  let previous = -1;
  for (const [, flat] of entries) {
    const f: Record<string, string> = {};
    for (let i = 0; i < flat.length; i += 2) f[flat[i]] = flat[i + 1];
    const index = byId.get(f.trade_id);
    if (index === undefined) {
      verdict.mismatched.push(`unknown trade_id ${f.trade_id}`);
      continue;
    }
    seen.set(f.trade_id, (seen.get(f.trade_id) ?? 0) + 1);
    if (index < previous) verdict.reordered++;
    previous = index;
    const t = tape[index];
    const fields: [string, string | undefined][] = [
      ["price", t.price],
      ["size", t.size],
      ["side", t.side],
      ["ts", String(t.ts)],
      ["flags", t.flags?.join(",")], // absent on both sides for an unflagged trade
    ];
    for (const [field, want] of fields) {
      if (f[field] !== want && verdict.mismatched.length < 5) {
        verdict.mismatched.push(`${market} ${t.tradeId} ${field}: ${f[field]} != ${want}`);
      }
    }
  }
  for (const [, n] of seen) if (n > 1) verdict.duplicated += n - 1;
  verdict.present = seen.size;
  verdict.lost = tape.length - seen.size;

  const last = await redis.hgetall(keys.last);
  const final = tape[tape.length - 1];
  if (last.trade_id !== final.tradeId || last.price !== final.price) {
    verdict.badLast =
      `last is ${last.trade_id}@${last.price}, want ${final.tradeId}@${final.price}`;
  } else if (last.flags !== final.flags?.join(",")) {
    verdict.badLast = `last has flags ${last.flags}, want ${final.flags?.join(",")}`;
  }

  const minutes = new Map<string, RawTrade[]>();
  for (const t of tape) {
    const minute = String(Math.floor(t.ts / 60_000) * 60_000);
    minutes.set(minute, [...(minutes.get(minute) ?? []), t]);
  }
  const candles = await redis.hgetall(keys.candles);
  for (const [minute, trades] of minutes) {
    const raw = candles[minute];
    const c = raw ? JSON.parse(raw) : null;
    const volume = decimalSum(trades.map((t) => t.size));
    if (
      !c || canonicalDecimal(c.v) !== canonicalDecimal(volume) || c.n !== trades.length ||
      c.o !== trades[0].price || c.c !== trades[trades.length - 1].price
    ) {
      verdict.badCandles.push(`${minute}: ${raw} vs v=${volume} n=${trades.length}`);
    }
  }
  return verdict;
}

/** One line for failure messages and the chaos summary. */
export function describeVerdict(v: Verdict): string {
  return `${v.expected} trades, ${v.lost} lost, ${v.duplicated} duplicated, ${v.reordered} reordered` +
    (v.mismatched.length ? `, mismatched: ${v.mismatched.join("; ")}` : "") +
    (v.badCandles.length ? `, bad candles: ${v.badCandles.slice(0, 3).join("; ")}` : "") +
    (v.badLast ? `, ${v.badLast}` : "");
}
