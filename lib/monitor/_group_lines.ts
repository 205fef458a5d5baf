/**
 * The dashboard's feeder-group lines (private to lib/monitor): this feeder's role, who writes
 * under which epoch, and every live feeder with its role and live markets. None outside a group.
 */

import type { StreamStatus } from "../runtime/status.ts";
import type pc from "picocolors";

type Colors = ReturnType<typeof pc.createColors>;

export function groupLines(s: StreamStatus, c: Colors): string[] {
  const g = s.group;
  if (!g) return [];
  const role = g.role === "writer" ? c.green("WRITER") : c.cyan("STANDBY");
  const writer = g.writer
    ? `${g.writer.id === g.feederId ? "this feeder" : g.writer.id} writes (epoch ${g.writer.epoch})`
    : c.red("no writer");
  const markets = Object.keys(s.markets).length;
  const members = g.members.map((m) =>
    `${m.id}${m.role === "writer" ? "*" : ""} ${m.live.length}/${markets} live`
  );
  return [
    `group ${c.bold(g.name)}  ${role} ${g.feederId}  ${writer}  lease ${g.leaseMs} ms`,
    c.dim(`  feeders: ${members.join(" · ") || "none seen"}`),
  ];
}
