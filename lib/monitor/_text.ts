/** Small text helpers for the dashboard: width-safe cutting and padding, sparklines, durations. */

// deno-lint-ignore no-control-regex
const ANSI = /\x1b\[[0-9;]*m/y;
const BLOCKS = "▁▂▃▄▅▆▇█";

/** Visible length (code points, escape sequences excluded). */
export function visibleLength(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length;) {
    ANSI.lastIndex = i;
    const m = ANSI.exec(s);
    if (m) {
      i += m[0].length;
      continue;
    }
    const cp = s.codePointAt(i)!;
    i += cp > 0xffff ? 2 : 1;
    n++;
  }
  return n;
}

/** Cuts `s` to at most `width` visible characters, keeping escape sequences balanced. */
export function cut(s: string, width: number): string {
  if (visibleLength(s) <= width) return s;
  let out = "";
  let n = 0;
  let styled = false;
  for (let i = 0; i < s.length;) {
    ANSI.lastIndex = i;
    const m = ANSI.exec(s);
    if (m) {
      out += m[0];
      styled = true;
      i += m[0].length;
      continue;
    }
    if (n >= width) break;
    const cp = s.codePointAt(i)!;
    const ch = String.fromCodePoint(cp);
    out += ch;
    i += ch.length;
    n++;
  }
  return styled ? out + "\x1b[0m" : out;
}

/** Cuts to `width` (with `…` when cut) and pads to exactly `width`. */
export function fit(s: string, width: number, align: "left" | "right" = "left"): string {
  if (width <= 0) return "";
  const text = visibleLength(s) > width ? cut(s, width - 1) + "…" : s;
  const pad = " ".repeat(Math.max(0, width - visibleLength(text)));
  return align === "left" ? text + pad : pad + text;
}

/** A sparkline of the last `width` values, right-aligned; flat data draws a flat line. */
export function sparkline(values: number[], width: number): string {
  const points = values.filter(Number.isFinite).slice(-width);
  if (!points.length || width <= 0) return " ".repeat(Math.max(0, width));
  const min = Math.min(...points);
  const span = Math.max(...points) - min;
  const line = points.map((v) =>
    span === 0 ? BLOCKS[0] : BLOCKS[Math.min(7, Math.floor(((v - min) / span) * 8))]
  ).join("");
  return " ".repeat(width - points.length) + line;
}

/** `0s`, `42s`, `12m`, `3h05m`, `2d04h`. */
export function duration(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 100) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h${String(m % 60).padStart(2, "0")}m`;
  return `${Math.floor(h / 24)}d${String(h % 24).padStart(2, "0")}h`;
}

/** `12,345` */
export function count(n: number): string {
  return n.toLocaleString("en-US");
}

/** `[██████░░░░] 60%` for `done` of `total`. */
export function bar(done: number, total: number, width: number): string {
  const ratio = total > 0 ? Math.min(1, Math.max(0, done / total)) : 0;
  const full = Math.round(ratio * width);
  return `[${"█".repeat(full)}${"░".repeat(width - full)}] ${Math.floor(ratio * 100)}%`;
}
