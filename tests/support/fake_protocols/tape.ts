/**
 * The fake exchanges' deterministic trade tape.
 *
 * The same options always give the same tape: a seeded random walk of prices, sizes with varied
 * decimal lengths, both taker sides, sequential trade ids and non-decreasing µs timestamps.
 */

import type { Side, TradeFlag } from "../../../lib/trade.ts";
import { seededRandom } from "../rng.ts";

/** One published trade, in the terms every protocol encoder renders from. */
export interface TapeEntry {
  /** Trade id, decimal text. */
  tradeId: string;
  /** Price in units of 1e-8. */
  priceUnits: bigint;
  /** Size in units of 1e-8. */
  sizeUnits: bigint;
  /** Taker side. */
  side: Side;
  /** Trade time, µs since the epoch. */
  tsMicros: number;
  /** Decimal places to render beyond the significant ones (0–2), for "varied" formatting. */
  extraZeros: number;
  /** Exchange marks (Bybit `BT`/`RPI`), only where the fake was asked for them. */
  flags?: TradeFlag[];
}

/** How a protocol writes decimal text. */
export type NumberStyle = "fixed8" | "varied";

/** Options of {@link makeTape}. */
export interface TapeOptions {
  count: number;
  startTradeId: bigint;
  seed: number;
  /** First trade's time, µs. */
  startMicros: number;
  /** Whole currency units added to every price (a market that strays from the others). @default 0 */
  priceOffset?: number;
}

/** Builds `count` trades deterministically from the seed. */
export function makeTape(o: TapeOptions): TapeEntry[] {
  const rnd = seededRandom(o.seed);
  const out: TapeEntry[] = [];
  let cents = 11_725_001n + BigInt(Math.trunc(o.priceOffset ?? 0)) * 100n; // 117250.01 + offset
  let micros = o.startMicros;
  for (let i = 0; i < o.count; i++) {
    cents += BigInt(Math.floor(rnd() * 41) - 20);
    if (cents < 100n) cents = 100n;
    const sizeDigits = [3, 4, 5, 6, 8][Math.floor(rnd() * 5)];
    const unit = 10n ** BigInt(8 - sizeDigits);
    const sizeUnits = BigInt(1 + Math.floor(rnd() * 2 * 10 ** sizeDigits)) * unit;
    // Some trades share a millisecond, some are further apart.
    micros += rnd() < 0.3 ? Math.floor(rnd() * 400) : Math.floor(rnd() * 4000);
    out.push({
      tradeId: String(o.startTradeId + BigInt(i)),
      priceUnits: cents * 1_000_000n,
      sizeUnits,
      side: rnd() < 0.5 ? "buy" : "sell",
      tsMicros: micros,
      extraZeros: Math.floor(rnd() * 3),
    });
  }
  return out;
}

/** Decimal text of `units` × 1e-8 in the given style. */
export function decimalText(units: bigint, style: NumberStyle, extraZeros = 0): string {
  const int = units / 100_000_000n;
  const frac = (units % 100_000_000n).toString().padStart(8, "0");
  if (style === "fixed8") return `${int}.${frac}`;
  const trimmed = frac.replace(/0+$/, "");
  const padded = (trimmed + "00").slice(0, Math.min(8, trimmed.length + extraZeros));
  return padded ? `${int}.${padded}` : `${int}`;
}

/** RFC 3339 UTC text of a µs time with `digits` fraction digits (3, 6 or 9). */
export function rfc3339(micros: number, digits: 3 | 6 | 9): string {
  const ms = Math.floor(micros / 1000);
  const base = new Date(ms).toISOString().slice(0, 19);
  const frac = String(micros % 1_000_000).padStart(6, "0") + "000";
  return `${base}.${frac.slice(0, digits)}Z`;
}
