/**
 * The thin refresh loop around {@link render}: read the status file about once a second, draw.
 *
 * Guarantees: on a terminal it uses the alternate screen with the cursor hidden and always
 * restores both when it ends — on abort (Ctrl-C, SIGTERM via the CLI) and on an unexpected error
 * alike. A missing, unreadable or malformed status never ends the loop: it is shown on screen.
 * Everything it touches (clock, reader, writer, size, sleep) is injected, so tests drive it.
 */

import type { StreamStatus } from "../runtime/status.ts";
import { readStatus } from "../runtime/status.ts";
import { render } from "./render.ts";
import { sleep } from "../time.ts";
import { errorText } from "../redact.ts";

/** Enter the alternate screen and hide the cursor. */
export const ENTER_SCREEN = "\x1b[?1049h\x1b[?25l";
/** Show the cursor and leave the alternate screen. */
export const LEAVE_SCREEN = "\x1b[?25h\x1b[?1049l";

/** Options of {@link runMonitor}. */
export interface MonitorLoopOptions {
  dataDir: string;
  /** Ends the loop (the terminal is restored first). */
  signal: AbortSignal;
  /** @default 1000 */
  intervalMs: number;
  /** Full-screen redraw (alternate screen, cursor hidden) instead of appending frames. */
  tty: boolean;
  /** @default same as `tty` */
  color: boolean;
  /** Draw one frame and return. @default false */
  once: boolean;
  /** @default 60 */
  maxAgeSeconds: number;
  /** @default the console size, or 80×24 when there is none */
  size: () => { columns: number; rows: number };
  /** @default synchronous write to stdout */
  write: (text: string) => void;
  /** @default readStatus */
  read: (dataDir: string) => StreamStatus | null;
  /** @default Date.now */
  now: () => number;
}

const encoder = new TextEncoder();

/** Runs the dashboard until `signal` aborts (or after one frame with `once`). */
export async function runMonitor(
  options: Partial<MonitorLoopOptions> & {
    dataDir: string;
    signal: AbortSignal;
  },
): Promise<void> {
  const tty = options.tty ?? false;
  const o: MonitorLoopOptions = {
    intervalMs: 1000,
    color: tty,
    once: false,
    maxAgeSeconds: 60,
    size: consoleSize,
    write: (text) => writeAll(text),
    read: readStatus,
    now: Date.now,
    ...options,
    tty,
  };
  const fullScreen = o.tty && !o.once;
  if (fullScreen) o.write(ENTER_SCREEN);
  try {
    while (!o.signal.aborted) {
      const frame = drawFrame(o);
      if (fullScreen) o.write(`\x1b[H${frame.split("\n").join("\x1b[K\n")}\x1b[K\x1b[J`);
      else o.write(frame + "\n");
      if (o.once) return;
      await sleep(o.intervalMs, o.signal);
      if (!fullScreen && !o.signal.aborted) o.write("\n");
    }
  } finally {
    if (fullScreen) o.write(LEAVE_SCREEN);
  }
}

function drawFrame(o: MonitorLoopOptions): string {
  const { columns, rows } = o.size();
  const view = { width: columns, height: rows, color: o.color };
  const base = { nowMs: o.now(), dataDir: o.dataDir, maxAgeSeconds: o.maxAgeSeconds };
  let status: StreamStatus | null = null;
  let error: string | null = null;
  try {
    status = o.read(o.dataDir);
  } catch (e) {
    error = errorText(e);
  }
  try {
    return render({ ...base, status, error }, view);
  } catch (e) {
    const why = `malformed status: ${errorText(e)}`;
    return render({ ...base, status: null, error: why }, view);
  }
}

function consoleSize(): { columns: number; rows: number } {
  try {
    const { columns, rows } = Deno.consoleSize();
    if (columns > 0 && rows > 0) return { columns, rows };
  } catch { /* not a terminal */ }
  return { columns: 80, rows: 24 };
}

function writeAll(text: string): void {
  const bytes = encoder.encode(text);
  let off = 0;
  while (off < bytes.length) off += Deno.stdout.writeSync(bytes.subarray(off));
}
