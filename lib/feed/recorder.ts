/**
 * `--record <file>`: appends every raw WebSocket text message, with its receive time and market,
 * to an NDJSON file that `--replay` reads back (see replay_source.ts).
 *
 * Format, one JSON object per line (UTF-8, `\n`-terminated):
 * `{"t":<received at, ms since the epoch>,"market":"binance:BTC-USDT","msg":"<raw text>"}`.
 * Messages of the replacement connection during a planned hand-over are recorded too (the
 * sequencer drops the overlap on replay, as it does live).
 *
 * Guarantees:
 * - Never blocks or throws into the feed: {@link MessageRecorder.add} only appends to a memory
 *   buffer; a timer writes the buffer every `flushIntervalMs`, one write at a time, so lines land
 *   whole and in arrival order.
 * - A write error is logged once and recording stops (later messages are not recorded, and
 *   `dropped` counts them); the feed goes on. If the disk cannot keep up and the buffer passes
 *   `maxBufferBytes`, recording stops the same way rather than growing memory without bound.
 * - `close()` writes what is buffered and closes the file.
 * - No fsync: a crash loses at most the last `flushIntervalMs` of messages and may leave a
 *   truncated last line, which the replay reads up to and reports.
 */

import type { ExchangeAdapter } from "../exchanges/adapter.ts";
import { log } from "../log.ts";
import { marketName } from "../trade.ts";
import { errorText } from "../redact.ts";

/** Options of {@link MessageRecorder}. */
export interface RecorderOptions {
  /** How often the buffer is written. @default 200 */
  flushIntervalMs: number;
  /** Buffered bytes beyond which recording stops (the disk is too slow). @default 67_108_864 */
  maxBufferBytes: number;
}

/** Defaults of {@link RecorderOptions}. */
export const DEFAULT_RECORDER_OPTIONS: Readonly<RecorderOptions> = Object.freeze({
  flushIntervalMs: 200,
  maxBufferBytes: 64 * 1024 * 1024,
});

const encoder = new TextEncoder();

/** Buffers raw messages and appends them to a file in the background. */
export class MessageRecorder {
  readonly path: string;
  /** Lines written to the file. */
  written = 0;
  /** Lines not recorded because recording stopped. */
  dropped = 0;
  #file: Deno.FsFile;
  #options: RecorderOptions;
  #buffer: string[] = [];
  #bufferBytes = 0;
  #timer: ReturnType<typeof setInterval>;
  #writing: Promise<void> = Promise.resolve();
  #stopped = false;
  #closed = false;

  private constructor(path: string, file: Deno.FsFile, options: RecorderOptions) {
    this.path = path;
    this.#file = file;
    this.#options = options;
    this.#timer = setInterval(() => this.#flush(), options.flushIntervalMs);
  }

  /**
   * Opens `path` for appending (creating it).
   * @throws when the file cannot be opened
   */
  static async open(
    path: string,
    options: Partial<RecorderOptions> = {},
  ): Promise<MessageRecorder> {
    const file = await Deno.open(path, { append: true, create: true });
    return new MessageRecorder(path, file, { ...DEFAULT_RECORDER_OPTIONS, ...options });
  }

  /** True once recording stopped after an error (the feed is unaffected). */
  get stopped(): boolean {
    return this.#stopped;
  }

  /** Buffers one message. Never throws, never waits. */
  add(receivedAt: number, market: string, msg: string): void {
    if (this.#stopped || this.#closed) {
      this.dropped++;
      return;
    }
    const line = JSON.stringify({ t: receivedAt, market, msg }) + "\n";
    this.#buffer.push(line);
    this.#bufferBytes += line.length;
    if (this.#bufferBytes > this.#options.maxBufferBytes) {
      this.#stop(`buffer over ${this.#options.maxBufferBytes} bytes: the disk cannot keep up`);
    }
  }

  /** Writes what is buffered and closes the file. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#timer);
    this.#flush();
    await this.#writing;
    try {
      this.#file.close();
    } catch { /* already closed */ }
  }

  #flush(): void {
    if (this.#stopped || this.#buffer.length === 0) return;
    const lines = this.#buffer;
    this.#buffer = [];
    this.#bufferBytes = 0;
    this.#writing = this.#writing.then(async () => {
      if (this.#stopped) {
        this.dropped += lines.length;
        return;
      }
      try {
        await writeAll(this.#file, encoder.encode(lines.join("")));
        this.written += lines.length;
      } catch (e) {
        this.dropped += lines.length;
        this.#stop(errorText(e));
      }
    });
  }

  #stop(reason: string): void {
    if (this.#stopped) return;
    this.#stopped = true;
    this.dropped += this.#buffer.length;
    this.#buffer = [];
    this.#bufferBytes = 0;
    log.error("recording stopped; the feed continues", { file: this.path, reason });
  }
}

async function writeAll(file: Deno.FsFile, bytes: Uint8Array): Promise<void> {
  let off = 0;
  while (off < bytes.length) off += await file.write(bytes.subarray(off));
}

/** `adapter` with every parsed message also handed to `recorder` (the raw text, as received). */
export function recordingAdapter(
  adapter: ExchangeAdapter,
  recorder: MessageRecorder,
): ExchangeAdapter {
  const names = new WeakMap<object, string>();
  return {
    ...adapter,
    parse(text, market, receivedAt) {
      let name = names.get(market);
      if (name === undefined) names.set(market, name = marketName(market));
      recorder.add(receivedAt, name, text);
      return adapter.parse(text, market, receivedAt);
    },
  };
}
