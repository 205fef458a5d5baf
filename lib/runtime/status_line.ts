/**
 * The short status line `stream` prints on a terminal every 10 s: mode, markets live/total,
 * trades per minute, outbox depth. Rendered by the pure {@link statusLine}; printed by a thin
 * timer that does nothing unless stderr is a terminal and `--quiet` is off, so JSON logs off a
 * terminal stay one line per state change.
 */

import type { StreamStatus } from "./status.ts";

/** What a status line reads from a snapshot. */
export type StatusLineSnapshot = Pick<
  StreamStatus,
  "mode" | "startedAt" | "heartbeatAt" | "counters" | "outbox" | "markets"
>;

/**
 * `status: mode primary · 2/3 markets live · 1,234 trades/min · outbox 0`; the rate is over the
 * time since `previous` (or since the start).
 */
export function statusLine(now: StatusLineSnapshot, previous: StatusLineSnapshot | null): string {
  const markets = Object.values(now.markets);
  const live = markets.filter((m) => m.state === "live").length;
  const sinceMs = now.heartbeatAt - (previous?.heartbeatAt ?? now.startedAt);
  const trades = now.counters.tradesReceived - (previous?.counters.tradesReceived ?? 0);
  const perMinute = sinceMs > 0 ? Math.round(trades / sinceMs * 60_000) : 0;
  return `status: mode ${now.mode} · ${live}/${markets.length} markets live · ` +
    `${perMinute.toLocaleString("en-US")} trades/min · outbox ${
      now.outbox.depth.toLocaleString("en-US")
    }`;
}

export interface StatusLineOptions {
  /** Time between lines. */
  intervalMs: number;
  /** No line at all (`--quiet`). */
  quiet: boolean;
  /** Whether stderr is a terminal. @default Deno.stderr.isTerminal() */
  isTerminal?: boolean;
  /** Where a line goes. @default stderr */
  write?: (line: string) => void;
}

/** Prints {@link statusLine} every `intervalMs` on a terminal; returns the function that stops it. */
export function startStatusLine(
  snapshot: () => StatusLineSnapshot,
  options: StatusLineOptions,
): () => void {
  const isTerminal = options.isTerminal ?? Deno.stderr.isTerminal();
  if (options.quiet || !isTerminal) return () => {};
  const encoder = new TextEncoder();
  const write = options.write ?? ((line) => Deno.stderr.writeSync(encoder.encode(line + "\n")));
  let previous: StatusLineSnapshot | null = null;
  const timer = setInterval(() => {
    try {
      const now = snapshot();
      write(statusLine(now, previous));
      previous = now;
    } catch {
      // A status line is a courtesy: a broken terminal must not take the stream down.
    }
  }, options.intervalMs);
  return () => clearInterval(timer);
}
