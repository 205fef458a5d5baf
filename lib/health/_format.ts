/** Number and text formatting shared by the health report (private to lib/health). */

/** One line, without the `|` that separates Nagios performance data. */
export function oneLine(s: string): string {
  return s.replace(/[\r\n]+/g, " ").replace(/\|/g, "/");
}

export function round1(n: number): number {
  return Math.round(n * 10) / 10;
}

export function round2(n: number): number {
  return Math.round(n * 100) / 100;
}

/** 1,234,567 */
export function fmt(n: number): string {
  return n.toLocaleString("en-US");
}

/** Human-readable size: 1.2 MB. */
export function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ["KB", "MB", "GB", "TB"];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(1)} ${units[i]}`;
}
