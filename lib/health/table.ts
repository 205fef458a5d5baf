/**
 * The readable table under the status line of `btcfeed health`: one row per check, worst first.
 * No colour codes (cli-table3 adds them even when piped unless its styles are emptied).
 */

import Table from "cli-table3";
import type { HealthDocument, HealthStatus } from "./types.ts";

const ORDER: Record<HealthStatus, number> = { fail: 0, warn: 1, pass: 2 };

/** Renders the checks of `document` as a table (or one line when there are none). */
export function formatTable(document: HealthDocument): string {
  const rows = Object.entries(document.checks)
    .flatMap(([key, list]) => list.map((c) => ({ key, ...c })))
    .sort((a, b) => ORDER[a.status] - ORDER[b.status]);
  if (!rows.length) return document.output ?? "no checks";
  const table = new Table({
    head: ["check", "status", "value", "detail"],
    style: { head: [], border: [], compact: true },
    colWidths: [null, null, null, 64],
    wordWrap: true,
  });
  for (const r of rows) {
    const value = r.observedValue === null
      ? "-"
      : `${r.observedValue}${r.observedUnit ? ` ${r.observedUnit}` : ""}`;
    table.push([r.key, r.status, value, r.output]);
  }
  return table.toString();
}
