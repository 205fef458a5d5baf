/**
 * A small structured logger: JSON lines when not on a terminal (or `--log-format json`),
 * readable lines on a terminal. One line per event; nothing is logged per trade at `info`.
 *
 * Invariant: logging never throws into the caller, and values passed here must already be free
 * of secrets (URLs go through `redactUrl` first).
 */

export type LogLevel = "debug" | "info" | "warn" | "error";
export type LogFormat = "pretty" | "json";

const LEVELS: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface LoggerOptions {
  /** @default "pretty" on a terminal, "json" otherwise */
  format: LogFormat;
  /** @default "info" */
  level: LogLevel;
  /** Where lines go. @default stderr */
  write: (line: string) => void;
}

const encoder = new TextEncoder();

export function defaultLoggerOptions(): LoggerOptions {
  return {
    format: Deno.stderr.isTerminal() ? "pretty" : "json",
    level: "info",
    write: (line) => Deno.stderr.writeSync(encoder.encode(line + "\n")),
  };
}

export class Logger {
  #options: LoggerOptions;

  constructor(options: Partial<LoggerOptions> = {}) {
    this.#options = { ...defaultLoggerOptions(), ...options };
  }

  configure(options: Partial<LoggerOptions>): void {
    this.#options = { ...this.#options, ...options };
  }

  debug(event: string, fields?: Record<string, unknown>): void {
    this.#log("debug", event, fields);
  }
  info(event: string, fields?: Record<string, unknown>): void {
    this.#log("info", event, fields);
  }
  warn(event: string, fields?: Record<string, unknown>): void {
    this.#log("warn", event, fields);
  }
  error(event: string, fields?: Record<string, unknown>): void {
    this.#log("error", event, fields);
  }

  #log(level: LogLevel, event: string, fields: Record<string, unknown> = {}): void {
    if (LEVELS[level] < LEVELS[this.#options.level]) return;
    try {
      const time = new Date().toISOString();
      this.#options.write(
        this.#options.format === "json"
          ? JSON.stringify({ time, level, event, ...fields })
          : pretty(time, level, event, fields),
      );
    } catch {
      // A broken stderr must not take the feed down.
    }
  }
}

function pretty(time: string, level: LogLevel, event: string, fields: Record<string, unknown>) {
  const parts = Object.entries(fields).map(([k, v]) =>
    `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`
  );
  return `${time.slice(11, 23)} ${level.toUpperCase().padEnd(5)} ${event} ${parts.join(" ")}`
    .trimEnd();
}

/** The process-wide logger; `configFrom` (lib/cli/options.ts) configures it from `--log-*`. */
export const log = new Logger();
