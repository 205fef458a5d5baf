/**
 * `--replay <file>`: a recorded NDJSON file (see recorder.ts) as the source instead of the
 * exchanges. No network: each line's `msg` goes through its market's adapter `parse` and the
 * same {@link MarketPipeline} as live messages (sequencing, duplicate drop, quarantine, gap
 * reports), so it lands in Redis like live data.
 *
 * Guarantees:
 * - Lines are applied in file order; `receivedAt` is the recorded time `t`, and the pipeline's
 *   clock follows the recorded times, not the wall clock.
 * - Nothing is fetched: a gap in the recording (for contiguous exchanges) is reported through
 *   `onGap` with its missing count, never filled or invented. Trades a live run backfilled over
 *   REST are not in the recording, so its replay reports those gaps instead.
 * - A line that is not a complete record (`{"t":<ms>,"market":"<name>","msg":"<text>"}`) is
 *   skipped, counted and sampled to the log. A last line without its `\n` that does not parse is
 *   a truncated write: reading stops there and one log line gives its byte offset.
 * - Reading pauses while `busy()` says the sink is behind, so memory stays bounded however
 *   large the file.
 * - As fast as possible by default; with `speed` (> 0) a line is applied no earlier than its
 *   recorded offset from the first line divided by `speed` (1 = the recorded pace).
 * - `close()` stops reading and resolves when nothing is running any more.
 */

import type { ExchangeAdapter } from "../exchanges/adapter.ts";
import { log } from "../log.ts";
import { type Market, marketName, type Trade } from "../trade.ts";
import type { MarketSnapshot } from "./market_pipeline.ts";
import { type GapRecord, MarketPipeline } from "./market_pipeline.ts";
import type { LastTrade } from "./sequencer.ts";
import { errorText } from "../redact.ts";
import { sleep } from "../time.ts";
import { DEFAULT_REJECT_LOG_INTERVAL_MS } from "./quarantine.ts";
import { parseRecord, readLines, replayPacer } from "./_replay_file.ts";
import { safeParse } from "./_safe_parse.ts";

/** One market the replay feeds. */
export interface ReplayMarket {
  market: Market;
  adapter: ExchangeAdapter;
}

/** Everything a {@link ReplaySource} needs. */
export interface ReplaySourceInit {
  path: string;
  markets: ReplayMarket[];
  /** What storage holds per market name, so a replay into the same Redis adds nothing twice. */
  initialLast?: Record<string, LastTrade | null>;
  /** Receives each market's trades in order. Must not block; errors are logged. */
  onTrades: (trades: Trade[]) => void;
  /** Receives every gap found in the recording. */
  onGap?: (gap: GapRecord) => void;
  /** Reading pauses while this returns true. @default never */
  busy?: () => boolean;
  /** @default 10_000 */
  rejectLogIntervalMs?: number;
  /** Pace: recorded time runs this many times faster than the wall clock. @default unpaced */
  speed?: number;
}

/** What a finished (or stopped) replay read. */
export interface ReplaySummary {
  /** Lines read (complete or not). */
  lines: number;
  /** Messages handed to an adapter. */
  messages: number;
  /** Lines that were not a record, or named a market without an adapter. */
  skipped: number;
  /** Byte offset of a truncated last line, or null. */
  truncatedAt: number | null;
}

interface Run {
  pipeline: MarketPipeline;
  market: Market;
  adapter: ExchangeAdapter;
}

const YIELD_EVERY_LINES = 500;

/** The market names a recording holds, in order of first appearance (a first pass over it). */
export async function scanReplayMarkets(path: string): Promise<string[]> {
  const seen = new Set<string>();
  for await (const line of readLines(path)) {
    const rec = parseRecord(line.text);
    if (rec) seen.add(rec.market);
  }
  return [...seen];
}

/** Replays a recording into the same pipeline as live messages; see the module comment. */
export class ReplaySource {
  #init: ReplaySourceInit;
  #runs = new Map<string, Run>();
  #abort = new AbortController();
  #clock = 0;
  #state: MarketSnapshot["state"] = "connecting";
  #running: Promise<ReplaySummary> | null = null;

  constructor(init: ReplaySourceInit) {
    this.#init = init;
    for (const { market, adapter } of init.markets) {
      const name = marketName(market);
      // No REST in a replay: gaps are reported with their missing count, never fetched.
      const offline: ExchangeAdapter = { ...adapter, rest: undefined };
      const pipeline = new MarketPipeline({
        market,
        adapter: offline,
        initialLast: init.initialLast?.[name] ?? null,
        emit: (trades) => this.#emit(name, trades),
        onGap: (gap) => this.#gap(gap),
        onError: () => {},
        rejectLogIntervalMs: init.rejectLogIntervalMs,
        now: () => this.#clock,
        signal: this.#abort.signal,
      });
      this.#runs.set(name, { pipeline, market, adapter });
    }
  }

  /** The newest recorded time read so far (ms), 0 before the first line. */
  get clock(): number {
    return this.#clock;
  }

  /** Reads the whole file (once); resolves when it is consumed or `close()` stopped it. */
  run(): Promise<ReplaySummary> {
    this.#running ??= this.#read();
    return this.#running;
  }

  /** Per-market state in the shape of `Feed.snapshot()`: live while reading, down after. */
  snapshot(): Record<string, MarketSnapshot> {
    const out: Record<string, MarketSnapshot> = {};
    for (const [name, { pipeline }] of this.#runs) {
      out[name] = pipeline.snapshot({
        state: this.#state,
        reconnects: 0,
        handovers: 0,
        lastError: null,
      });
    }
    return out;
  }

  /** Stops reading; resolves when the reader and every pipeline are idle. */
  async close(): Promise<void> {
    this.#abort.abort();
    await this.#running?.catch(() => {});
    await Promise.all([...this.#runs.values()].map((r) => r.pipeline.idle()));
  }

  async #read(): Promise<ReplaySummary> {
    const summary: ReplaySummary = { lines: 0, messages: 0, skipped: 0, truncatedAt: null };
    const signal = this.#abort.signal;
    const { path } = this.#init;
    this.#state = "live";
    for (const run of this.#runs.values()) run.pipeline.connectionOpened();
    let sinceYield = 0;
    let skipLoggedAt = -Infinity;
    const pace = replayPacer(this.#init.speed, signal);
    for await (const line of readLines(path)) {
      if (signal.aborted) break;
      summary.lines++;
      const rec = parseRecord(line.text);
      const run = rec ? this.#runs.get(rec.market) : undefined;
      if (!rec && !line.terminated) {
        summary.truncatedAt = line.offset;
        log.warn("replay.truncated", {
          file: path,
          offset: line.offset,
          bytes: new TextEncoder().encode(line.text).length,
          message: `last line truncated at byte ${line.offset}: read up to the last complete line`,
        });
        break;
      }
      if (!rec || !run) {
        summary.skipped++;
        if (summary.skipped === 1 || this.#clock - skipLoggedAt >= DEFAULT_REJECT_LOG_INTERVAL_MS) {
          skipLoggedAt = this.#clock;
          log.warn("replay.line_skipped", {
            file: path,
            offset: line.offset,
            reason: rec ? `no such market here: ${rec.market}` : "not a recorded message",
            total: summary.skipped,
          });
        }
        continue;
      }
      if (pace) await pace(rec.t);
      if (signal.aborted) break;
      this.#clock = Math.max(this.#clock, rec.t);
      run.pipeline.message(safeParse(run.adapter, rec.msg, run.market, rec.t));
      summary.messages++;
      if (++sinceYield >= YIELD_EVERY_LINES) {
        sinceYield = 0;
        await sleep(0);
        while (!signal.aborted && this.#init.busy?.()) await sleep(20);
      }
    }
    this.#state = "down";
    log.info("replay.finished", { file: path, ...summary, stopped: signal.aborted });
    return summary;
  }

  #gap(gap: GapRecord): void {
    try {
      this.#init.onGap?.(gap);
    } catch (e) {
      log.error("feed.gap_handler_failed", { market: gap.market, error: errorText(e) });
    }
  }

  #emit(market: string, trades: Trade[]): void {
    try {
      this.#init.onTrades(trades);
    } catch (e) {
      log.error("feed.sink_failed", { market, error: errorText(e) });
    }
  }
}
