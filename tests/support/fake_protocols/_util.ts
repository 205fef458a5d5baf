/** Small helpers shared by the fake protocols. */

/** Parses client JSON; null when it is not an object. */
export function clientJson(text: string): Record<string, unknown> | null {
  try {
    const v = JSON.parse(text);
    return typeof v === "object" && v !== null && !Array.isArray(v) ? v : null;
  } catch {
    return null;
  }
}

/** A per-session counter kept in `flags` (sequence numbers and the like). */
export function nextCount(flags: Record<string, string | number | boolean>, key: string): number {
  const n = typeof flags[key] === "number" ? (flags[key] as number) : 0;
  flags[key] = n + 1;
  return n;
}

/** RFC 3339 of now with 9 fraction digits, as Coinbase stamps its envelopes. */
export function nowNanos(): string {
  return new Date().toISOString().replace("Z", "000000Z");
}

/** Index of the first entry of `sorted` (ascending by `key`) whose key is at least `min`. */
export function firstAtLeast<T>(sorted: readonly T[], min: bigint, key: (e: T) => bigint): number {
  let lo = 0, hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (key(sorted[mid]) < min) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
