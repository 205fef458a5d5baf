/**
 * Plain-text tables and number formats shared by the benchmarks (private to bench/).
 *
 * Tables are rendered to a string by a pure function: the first column is left-aligned, the
 * others right-aligned, columns separated by two spaces, no colour codes (output is often piped).
 */

/** Renders `rows` under `headers`; every row must have as many cells as there are headers. */
export function table(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = headers.map((h, c) => Math.max(h.length, ...rows.map((r) => (r[c] ?? "").length)));
  const line = (cells: readonly string[]) =>
    cells.map((cell, c) => c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))
      .join("  ").trimEnd();
  return [line(headers), ...rows.map(line)].join("\n");
}

/** `1234567.8` → `1,234,568`. */
export function int(n: number): string {
  return Number.isFinite(n) ? Math.round(n).toLocaleString("en-US") : "-";
}

/** A ratio such as `12.3x` (two decimals below 10). */
export function ratio(n: number): string {
  if (!Number.isFinite(n)) return "-";
  return `${n < 10 ? n.toFixed(2) : n.toFixed(1)}x`;
}

/** Milliseconds with one decimal below 100 ms. */
export function ms(n: number | null): string {
  if (n === null || !Number.isFinite(n)) return "-";
  return n < 100 ? n.toFixed(1) : String(Math.round(n));
}

/** The median of `values` (the mean of the middle two for an even count); NaN when empty. */
export function median(values: readonly number[]): number {
  if (!values.length) return NaN;
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/** A positive integer from the environment variable `name`, or `fallback` when unset. */
export function envInt(name: string, fallback: number): number {
  const text = Deno.env.get(name);
  if (text === undefined || text === "") return fallback;
  const n = /^[0-9_]+$/.test(text) ? Number(text.replaceAll("_", "")) : NaN;
  if (!Number.isSafeInteger(n) || n < 1) {
    throw new Error(`${name}: "${text}" must be a positive whole number`);
  }
  return n;
}
