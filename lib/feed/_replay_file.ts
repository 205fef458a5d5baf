/**
 * Reading a recording (private to lib/feed): its NDJSON lines with byte offsets, the record each
 * line holds, and the pace at which a `--replay --speed` run applies them.
 *
 * Invariants:
 * - Lines come in file order, each with the byte offset of its first byte; only a last line
 *   without its `\n` has `terminated: false`.
 * - Memory is bounded by the longest line plus one 64 KiB read buffer.
 */

import { sleep } from "../time.ts";

/** One line of the file, with its byte offset; `terminated` is false for a last line with no `\n`. */
export interface Line {
  text: string;
  offset: number;
  terminated: boolean;
}

/** One complete record of a recording. */
export interface ReplayRecord {
  t: number;
  market: string;
  msg: string;
}

/** With `speed` (> 0), waits until a line recorded at `t` is due; null when unpaced. */
export function replayPacer(
  speed: number | undefined,
  signal: AbortSignal,
): ((t: number) => Promise<void>) | null {
  if (!speed || !(speed > 0)) return null;
  let first: number | null = null;
  const startedAt = Date.now();
  return async (t) => {
    first ??= t;
    const wait = startedAt + (t - first) / speed - Date.now();
    if (wait > 0) await sleep(wait, signal);
  };
}

/** A recorded line, or null when it is not one. */
export function parseRecord(text: string): ReplayRecord | null {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return null;
  }
  const o = v as { t?: unknown; market?: unknown; msg?: unknown } | null;
  if (
    typeof o !== "object" || o === null || typeof o.t !== "number" || !Number.isFinite(o.t) ||
    typeof o.market !== "string" || typeof o.msg !== "string"
  ) return null;
  return { t: o.t, market: o.market, msg: o.msg };
}

/** The file's lines with their byte offsets, reading 64 KiB at a time. */
export async function* readLines(path: string): AsyncGenerator<Line> {
  const file = await Deno.open(path, { read: true });
  const decoder = new TextDecoder();
  const buf = new Uint8Array(64 * 1024);
  let carry: Uint8Array[] = [];
  let carryBytes = 0;
  let offset = 0;
  const take = (tail: Uint8Array): Uint8Array => {
    if (!carry.length) return tail;
    const out = new Uint8Array(carryBytes + tail.length);
    let at = 0;
    for (const c of carry) out.set(c, at), at += c.length;
    out.set(tail, at);
    carry = [];
    carryBytes = 0;
    return out;
  };
  try {
    for (;;) {
      const n = await file.read(buf);
      if (n === null) break;
      let start = 0;
      for (let nl = buf.indexOf(10, start); nl !== -1 && nl < n; nl = buf.indexOf(10, start)) {
        const bytes = take(buf.subarray(start, nl));
        yield { text: decoder.decode(bytes), offset, terminated: true };
        offset += bytes.length + 1;
        start = nl + 1;
      }
      if (start < n) {
        carry.push(buf.slice(start, n));
        carryBytes += n - start;
      }
    }
    if (carryBytes > 0) {
      yield { text: decoder.decode(take(new Uint8Array(0))), offset, terminated: false };
    }
  } finally {
    file.close();
  }
}
