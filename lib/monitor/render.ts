/**
 * The `btcfeed monitor` screen as a pure function of a snapshot: same snapshot, same string.
 *
 * Invariants: the result has at most `height` lines, none wider than `width` visible characters
 * (markets and transitions that do not fit are summarised as "… N more"); without `color` it
 * contains no escape sequence. Prices are shown exactly as the exchange sent them.
 */

import pc from "picocolors";
import type { MarketStatus, RedisTargetStatus, StreamStatus } from "../runtime/status.ts";
import { DEFAULT_HEALTH_OPTIONS } from "../health/types.ts";
import { bar, count, cut, duration, fit, sparkline } from "./_text.ts";
import { groupLines } from "./_group_lines.ts";

/** What one frame shows. */
export interface MonitorSnapshot {
  /** The stream's last status; null when there is none. */
  status: StreamStatus | null;
  nowMs: number;
  dataDir: string;
  /** Why the status could not be read (shown instead of the dashboard); null when it could. */
  error: string | null;
  /** A heartbeat older than this means no stream is running. @default 10 */
  heartbeatMaxAgeSeconds?: number;
  /** A market whose last trade is older than this is shown as stale. @default 60 */
  maxAgeSeconds?: number;
}

/** Screen size and whether to use colour. */
export interface RenderOptions {
  width: number;
  height: number;
  color: boolean;
}

type Colors = ReturnType<typeof pc.createColors>;

/** Renders one frame. */
export function render(snapshot: MonitorSnapshot, options: RenderOptions): string {
  const c = pc.createColors(options.color);
  const width = Math.max(20, Math.floor(options.width));
  const height = Math.max(3, Math.floor(options.height));
  const s = snapshot.status;
  const heartbeatMax = snapshot.heartbeatMaxAgeSeconds ??
    DEFAULT_HEALTH_OPTIONS.heartbeatMaxAgeSeconds;
  const heartbeatMs = s ? snapshot.nowMs - s.heartbeatAt : 0;
  const lines = snapshot.error !== null || !s || heartbeatMs > heartbeatMax * 1000
    ? noStream(snapshot, c)
    : dashboard(snapshot, s, c, width, height);
  return lines.slice(0, height).map((l) => cut(l, width)).join("\n");
}

function noStream(snap: MonitorSnapshot, c: Colors): string[] {
  const s = snap.status;
  const why = snap.error !== null
    ? `cannot read the status: ${snap.error}`
    : !s
    ? `no status in ${snap.dataDir}`
    : `heartbeat ${duration(snap.nowMs - s.heartbeatAt)} old, pid ${s.pid}`;
  const lines = [
    c.bold("btcfeed monitor"),
    "",
    `  ${c.red(c.bold("No stream running"))} (${why})`,
    "",
  ];
  if (s && snap.error === null) {
    lines.push(
      `  last seen: mode ${s.mode}${s.forced ? " (forced)" : ""}, outbox ${count(s.outbox.depth)}` +
        ` trades, ${Object.keys(s.markets).length} markets`,
      "",
    );
  }
  lines.push(
    `  start one with: deno task stream --data-dir ${snap.dataDir}`,
    `  waiting for a status; Ctrl-C quits`,
  );
  return lines;
}

function dashboard(
  snap: MonitorSnapshot,
  s: StreamStatus,
  c: Colors,
  width: number,
  height: number,
): string[] {
  const now = snap.nowMs;
  const modeColor = s.mode === "primary" ? c.green : s.mode === "failover" ? c.yellow : c.cyan;
  const head: string[] = [
    `${c.bold("btcfeed")}  ${c.bold(modeColor(s.mode.toUpperCase()))}` +
    `${s.forced ? " " + c.magenta(c.bold("FORCED")) : ""}  pid ${s.pid}  up ${
      duration(now - s.startedAt)
    }  heartbeat ${duration(now - s.heartbeatAt)}`,
    target("primary", s.primary, c),
    target("failover", s.failover, c),
    outboxLine(s, c),
    ...groupLines(s, c),
    ...tradesLines(s.counters, c),
    "",
  ];
  const trendWidth = Math.max(0, width - 68);
  const tableHead = c.dim(
    `${fit("  MARKET", 18)} ${fit("PRICE", 13, "right")} ${fit("CHG", 7, "right")} ${
      fit("T/S", 5, "right")
    } ${fit("AGE", 5, "right")} ${fit("TREND", trendWidth)} ${fit("RC", 3, "right")} ${
      fit("GAPS", 5, "right")
    } ${fit("QUAR", 4, "right")}`,
  );
  const markets = Object.entries(s.markets);
  const maxAge = snap.maxAgeSeconds ?? DEFAULT_HEALTH_OPTIONS.maxAgeSeconds;
  const rows = markets.map(([name, m]) => marketRow(name, m, s, now, maxAge, trendWidth, c));
  const footer = c.dim(`${snap.dataDir} · refreshed every second · Ctrl-C quits`);
  const room = height - head.length - 2; // table head + footer
  const shown = rows.length > room ? rows.slice(0, Math.max(0, room - 1)) : rows;
  if (shown.length < rows.length) shown.push(c.dim(`  … ${rows.length - shown.length} more`));
  const body = [...head, tableHead, ...shown];
  const notes = [...alerts(markets, now, maxAge, c), ...transitions(s, now, c)];
  const free = height - body.length - 1;
  if (free >= 2 && notes.length) {
    const fitted = notes.length > free - 1 ? notes.slice(0, Math.max(0, free - 2)) : notes;
    if (fitted.length < notes.length) {
      fitted.push(c.dim(`  … ${notes.length - fitted.length} more`));
    }
    body.push("", ...fitted);
  }
  while (body.length < height - 1) body.push("");
  return [...body, footer];
}

function target(role: string, t: RedisTargetStatus, c: Colors): string {
  const name = fit(role, 9);
  if (t.url === null) {
    return `${name} ${c.dim("not configured (the outbox alone carries an outage)")}`;
  }
  const state = t.healthy ? c.green("● up  ") : c.red("✗ down");
  const latency = t.healthy && t.latencyMs !== null ? `${t.latencyMs.toFixed(2)} ms` : "-";
  const err = !t.healthy && t.lastError ? `  ${c.red(t.lastError)}` : "";
  return `${name} ${state} ${fit(latency, 9, "right")}  ${t.url}${err}`;
}

function outboxLine(s: StreamStatus, c: Colors): string {
  const o = s.outbox;
  const size = o.bytes < 1024 ? `${o.bytes} B` : `${(o.bytes / 1024 / 1024).toFixed(1)} MB`;
  let line = `outbox    ${count(o.depth)} trades (${size}) of ${count(o.maxTrades)}`;
  if (o.full) line += `  ${c.red(c.bold("FULL"))}`;
  if (o.lastError) line += `  ${c.red(o.lastError)}`;
  if (s.sync) {
    line += `  sync ${count(s.sync.done)}/${count(s.sync.total)} ${
      c.cyan(bar(s.sync.done, s.sync.total, 12))
    }`;
  }
  return line;
}

function tradesLines(n: StreamStatus["counters"], c: Colors): string[] {
  const dropped = n.dropped > 0 ? c.red(`dropped ${count(n.dropped)}`) : "dropped 0";
  return [
    `trades    in ${count(n.tradesReceived)}  ${dropped}  duplicates ${count(n.duplicates)}` +
    `  out-of-order ${count(n.outOfOrder)}`,
    `written   primary ${count(n.writtenPrimary)}  failover ${count(n.writtenFailover)}` +
    `  outbox ${count(n.outboxAppended)}  replayed ${count(n.replayed)}`,
  ];
}

function marketRow(
  name: string,
  m: MarketStatus,
  s: StreamStatus,
  now: number,
  maxAge: number,
  trendWidth: number,
  c: Colors,
): string {
  const mark = m.state === "live"
    ? c.green("●")
    : m.state === "connecting"
    ? c.dim("○")
    : m.state === "blocked"
    ? c.red("⊘")
    : c.red("✗");
  const label = name === s.consolidatedMarket ? c.bold(name) : name;
  const history = m.history.map(([, p]) => Number(p));
  const first = history[0];
  const lastPrice = m.last ? Number(m.last.price) : NaN;
  const change = Number.isFinite(first) && first > 0 && Number.isFinite(lastPrice)
    ? ((lastPrice - first) / first) * 100
    : null;
  const chg = change === null
    ? ""
    : (change >= 0 ? c.green : c.red)(`${change >= 0 ? "+" : ""}${change.toFixed(2)}%`);
  const ageMs = m.last ? now - m.last.ts : null;
  const age = ageMs === null ? "-" : duration(ageMs);
  const stale = ageMs !== null && ageMs > maxAge * 1000;
  const q = Object.values(m.quarantined).reduce((a, b) => a + b, 0);
  return [
    `${mark} ${fit(label, 16)}`,
    fit(price(m.last?.price ?? "-", 13), 13, "right"),
    fit(chg, 7, "right"),
    fit(m.tradeRate.toFixed(1), 5, "right"),
    fit(stale ? c.yellow(age) : age, 5, "right"),
    c.cyan(sparkline(history, trendWidth)),
    fit(String(m.reconnects), 3, "right"),
    fit(`${m.gaps}/${m.gapsBackfilled}`, 5, "right"),
    fit(q ? c.yellow(String(q)) : "0", 4, "right"),
  ].join(" ");
}

/** The exchange's text; when too wide, trailing fraction zeros go first (same value). */
function price(text: string, width: number): string {
  if (text.length <= width || !text.includes(".")) return text;
  return text.replace(/0+$/, "").replace(/\.$/, "");
}

function alerts(markets: [string, MarketStatus][], now: number, maxAge: number, c: Colors) {
  const out: string[] = [];
  for (const [name, m] of markets) {
    if (m.state === "blocked") {
      out.push(c.red(`! ${name} blocked: ${m.lastError ?? "by the exchange"}`));
    } else if (m.state === "down") {
      out.push(c.yellow(`! ${name} down${m.lastError ? `: ${m.lastError}` : ""}`));
    }
    if (m.outlier) out.push(c.yellow(`! ${name} price strays from the others: left out`));
    const g = m.recovering;
    if (g) {
      const left = g.remaining === null ? "catching up" : `${g.remaining} to go`;
      out.push(
        c.yellow(`! ${name} gap pending: ${g.recovered} recovered, ${left}, ${g.held} held`),
      );
    }
    if (m.last && now - m.last.ts > maxAge * 1000) {
      out.push(c.yellow(`! ${name} no trade for ${duration(now - m.last.ts)}`));
    }
  }
  return out;
}

function transitions(s: StreamStatus, now: number, c: Colors): string[] {
  return [...s.transitions].reverse().map((t) =>
    `${c.dim(fit(`${duration(now - t.at)} ago`, 9, "right"))}  ${t.from} → ${t.to}  ${
      c.dim(t.reason)
    }`
  );
}
