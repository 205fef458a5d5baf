/**
 * The stream's recent starts, kept in `<dataDir>/starts.json` so `health` can see a crash loop
 * that no single status file shows. `stream` appends one entry as it starts (under the stream
 * lock, so writers never race) and keeps the last hour, at most {@link MAX_STARTS} entries;
 * `health` only reads it.
 */

import { readJson, writeJsonAtomic } from "./status.ts";

export const STARTS_FILE = "starts.json";
/** Starts within this window count as recent (health's restart check). */
export const RESTART_WINDOW_MS = 10 * 60_000;
const KEEP_MS = 60 * 60_000;
const MAX_STARTS = 50;

/** One start of `stream`. */
export interface StartRecord {
  /** ms since the epoch */
  at: number;
  pid: number;
}

/** Appends this start, pruning entries older than an hour; returns the history. */
export function recordStart(dataDir: string, now = Date.now()): StartRecord[] {
  const kept = readStarts(dataDir).filter((s) => now - s.at <= KEEP_MS);
  const starts = [...kept, { at: now, pid: Deno.pid }].slice(-MAX_STARTS);
  writeJsonAtomic(dataDir, STARTS_FILE, starts);
  return starts;
}

/** The recorded starts, oldest first; empty when there is no (readable) history. */
export function readStarts(dataDir: string): StartRecord[] {
  try {
    const starts = readJson<unknown>(dataDir, STARTS_FILE);
    return Array.isArray(starts)
      ? starts.filter((s): s is StartRecord => typeof s?.at === "number")
      : [];
  } catch {
    return []; // a torn or foreign file is no history, not a failed check
  }
}

/** Start times within {@link RESTART_WINDOW_MS} of `now`. */
export function recentStarts(starts: readonly StartRecord[], now: number): number[] {
  return starts.map((s) => s.at).filter((at) => at <= now && now - at <= RESTART_WINDOW_MS);
}
