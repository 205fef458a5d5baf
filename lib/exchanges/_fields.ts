/**
 * Field validators and the result builder shared by the exchange adapters.
 *
 * Every validator returns the normalized value or `null`; none throws. What is valid is the trade
 * rules of `lib/trade.ts` (documented there, shared with the writer, the outbox and the apply
 * script); these functions only read each exchange's encodings of them. Times are converted from
 * sub-millisecond text by truncation, never through floats.
 */

import type { AdapterEvent, ParseResult, Reject, RejectReason } from "./adapter.ts";
import { type Json, JsonNumber } from "./_json.ts";
import {
  compareTradeIds,
  isPositiveDecimal,
  isTradeIdText,
  isTradeMs,
  type Market,
  marketName,
  type RawTrade,
  type Side,
} from "../trade.ts";

const SAMPLE_CHARS = 200;
const INT_RE = /^(0|[1-9][0-9]*)$/;
const RFC3339_RE =
  /^([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]{1,9}))?(Z|[+-][0-9]{2}:[0-9]{2})$/;
const SECONDS_RE = /^(0|[1-9][0-9]*)(?:\.([0-9]+))?$/;

/** One trade's fields, each already validated: `null` marks an invalid one. */
export interface TradeFields {
  /** Whether the message names our market (`null`: not a string); omitted when not sent. */
  symbol?: boolean | null;
  tradeId: string | null;
  price: string | null;
  size: string | null;
  ts: number | null;
  side: Side | null;
}

/** `true` when `v` is `expected`, `false` for another symbol, `null` when not a string. */
export function symbolIs(v: Json | undefined, expected: string): boolean | null {
  return typeof v === "string" ? v === expected : null;
}

/** Accumulates one message's trades, events and rejects. */
export class ResultBuilder {
  readonly trades: RawTrade[] = [];
  readonly events: AdapterEvent[] = [];
  readonly rejects: Reject[] = [];
  constructor(readonly text: string) {}

  /** Records a reject with a sample of the message text. */
  reject(reason: RejectReason): this {
    this.rejects.push({ reason, sample: sampleOf(this.text) });
    return this;
  }

  /**
   * The trade of `fields`, or null after rejecting it with the reason of its first invalid field,
   * checked in this order: symbol (wrong type, then another market), id, price, size, time, side.
   */
  trade(market: Market, receivedAt: number, fields: TradeFields): RawTrade | null {
    const { symbol, tradeId, price, size, ts, side } = fields;
    const reason: RejectReason | null = symbol === null
      ? "wrong_type"
      : symbol === false
      ? "wrong_market"
      : tradeId === null
      ? "bad_trade_id"
      : price === null
      ? "bad_price"
      : size === null
      ? "bad_size"
      : ts === null
      ? "bad_time"
      : side === null
      ? "bad_side"
      : null;
    if (reason) {
      this.reject(reason);
      return null;
    }
    return {
      market: marketName(market),
      tradeId: tradeId!,
      price: price!,
      size: size!,
      side: side!,
      ts: ts!,
      receivedAt,
    };
  }

  event(e: AdapterEvent): this {
    this.events.push(e);
    return this;
  }

  result(): ParseResult {
    return { trades: this.trades, events: this.events, rejects: this.rejects };
  }
}

/** A result holding one reject. */
export function rejectOnly(text: string, reason: RejectReason): ParseResult {
  return new ResultBuilder(text).reject(reason).result();
}

/** At most 200 characters of `text` for log samples. */
export function sampleOf(text: string): string {
  return text.length <= SAMPLE_CHARS ? text : text.slice(0, SAMPLE_CHARS);
}

/** Positive decimal text from a JSON string field. */
export function decimalFromString(v: Json | undefined): string | null {
  return typeof v === "string" && isPositiveDecimal(v) ? v : null;
}

/** Positive decimal text from a JSON number field (its exact text). */
export function decimalFromNumber(v: Json | undefined): string | null {
  return v instanceof JsonNumber && isPositiveDecimal(v.text) ? v.text : null;
}

/** Trade id text from a JSON integer number. */
export function idFromNumber(v: Json | undefined): string | null {
  return v instanceof JsonNumber && isTradeIdText(v.text) ? v.text : null;
}

/** Trade id text from a JSON string holding a decimal integer. */
export function idFromString(v: Json | undefined): string | null {
  return typeof v === "string" && isTradeIdText(v) ? v : null;
}

/** Milliseconds from an integer count of `unitsPerMs` (1 for ms, 1000 for µs) as text. */
export function msFromIntegerText(text: string, unitsPerMs = 1): number | null {
  if (!INT_RE.test(text) || text.length > 22) return null;
  const digits = String(unitsPerMs).length - 1;
  const msText = digits === 0 ? text : text.slice(0, Math.max(0, text.length - digits)) || "0";
  return inRange(Number(msText));
}

/** Milliseconds from a JSON integer number (ms). */
export function msFromNumber(v: Json | undefined): number | null {
  return v instanceof JsonNumber ? msFromIntegerText(v.text) : null;
}

/** Milliseconds from a JSON string holding an integer (ms, or µs with `unitsPerMs` 1000). */
export function msFromString(v: Json | undefined, unitsPerMs = 1): number | null {
  return typeof v === "string" ? msFromIntegerText(v, unitsPerMs) : null;
}

/** Milliseconds from decimal seconds text such as `1688669597.8277369` (truncated to ms). */
export function msFromSecondsText(text: string): number | null {
  const m = SECONDS_RE.exec(text);
  if (!m || m[1].length > 11) return null;
  const frac = ((m[2] ?? "") + "000").slice(0, 3);
  return inRange(Number(m[1]) * 1000 + Number(frac));
}

/** Milliseconds from an RFC 3339 time with up to ns precision (truncated to ms), or null. */
export function msFromRfc3339(v: Json | undefined): number | null {
  if (typeof v !== "string") return null;
  const m = RFC3339_RE.exec(v);
  if (!m) return null;
  const [y, mo, d, h, mi, s] = [m[1], m[2], m[3], m[4], m[5], m[6]].map(Number);
  if (mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || s > 59) return null;
  const base = Date.UTC(y, mo - 1, d, h, mi, s);
  if (new Date(base).getUTCDate() !== d) return null; // 2026-02-30 and the like
  let offsetMs = 0;
  if (m[8] !== "Z") {
    const oh = Number(m[8].slice(1, 3));
    const om = Number(m[8].slice(4, 6));
    if (oh > 23 || om > 59) return null;
    offsetMs = (m[8][0] === "+" ? 1 : -1) * (oh * 60 + om) * 60_000;
  }
  const ms = Number(((m[7] ?? "") + "000").slice(0, 3));
  return inRange(base + ms - offsetMs);
}

/** `buy`/`sell` from text that exactly matches one of the two given spellings. */
export function sideFrom(v: Json | undefined, buy: string, sell: string): Side | null {
  if (v === buy) return "buy";
  if (v === sell) return "sell";
  return null;
}

/** The other side. */
export function invertSide(s: Side): Side {
  return s === "buy" ? "sell" : "buy";
}

/** Sorts trades by trade id ascending, in place (stable). */
export function sortByTradeId(trades: RawTrade[]): RawTrade[] {
  return trades.sort((a, b) => compareTradeIds(a.tradeId, b.tradeId));
}

/** A short text for an error event from an exchange's code and message fields. */
export function errorText(code: Json | undefined, msg: Json | undefined): string {
  const c = code instanceof JsonNumber ? code.text : typeof code === "string" ? code : "";
  const m = typeof msg === "string" ? msg : "";
  return sampleOf(c && m ? `${c}: ${m}` : c || m || "unspecified error");
}

function inRange(ms: number): number | null {
  return isTradeMs(ms) ? ms : null;
}
