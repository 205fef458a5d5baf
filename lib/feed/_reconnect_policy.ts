/**
 * What follows the end of a market's connection (private to lib/feed): how long to wait, which
 * state to enter, and which log line (if any) tells the operator.
 *
 * Invariants:
 * - Every delay comes from the jittered backoff, which resets only after a stable connection;
 *   an upgrade refused with HTTP 451/403 waits `blockedRetryMs` instead, with one clear line.
 * - One outage logs its first failure in full, then at most one "still unreachable" line per
 *   `failureLogIntervalMs` (every other attempt at debug), and one line on recovery.
 */

import type { LogLevel } from "../log.ts";
import { Backoff, type BackoffOptions } from "./backoff.ts";
import type { Clock } from "../time.ts";
import type { Link, LinkEnd } from "./_link.ts";
import { safeUrl } from "../redact.ts";
import { FailureLog, recoveredText, stillDownText } from "../failure_log.ts";

/** A state change that is its own log event (at `level`, a warning unless said otherwise). */
export interface StateNotice {
  event: string;
  fields: Record<string, unknown>;
  level?: LogLevel;
}

/** The next reconnect: wait `delayMs` in `state` (with `detail` as its reason). */
export interface ReconnectStep {
  delayMs: number;
  state: "down" | "blocked";
  detail: string;
  notice: StateNotice;
}

export interface ReconnectPolicyOptions {
  backoff: Partial<BackoffOptions>;
  blockedRetryMs: number;
  failureLogIntervalMs: number;
}

/** Backoff and condensed failure logging of one market's connection. */
export class ReconnectPolicy {
  #name: string;
  #options: ReconnectPolicyOptions;
  #clock: Clock;
  #backoff: Backoff;
  #failures: FailureLog;

  constructor(name: string, options: ReconnectPolicyOptions, clock: Clock, random?: () => number) {
    this.#name = name;
    this.#options = options;
    this.#clock = clock;
    this.#backoff = new Backoff(options.backoff, random);
    this.#failures = new FailureLog(
      { intervalMs: options.failureLogIntervalMs },
      () => this.#clock.now(),
    );
  }

  /** The next backoff delay (also spaces out failed replacements). */
  nextDelayMs(): number {
    return this.#backoff.next();
  }

  /** The recovery line when a connection opens after an outage, else undefined. */
  recovered(): StateNotice | undefined {
    const recovery = this.#failures.recovered(this.#name);
    if (!recovery) return undefined;
    return {
      event: "feed.recovered",
      level: "info",
      fields: { ...recovery, message: recoveredText(this.#name, recovery) },
    };
  }

  /** The reconnect after `link` ended for `why`. */
  afterEnd(link: Link, why: LinkEnd): ReconnectStep {
    const now = this.#clock.now();
    if (link.openedAt !== null) this.#backoff.connectionEnded(link.openedAt, now);
    if (why.status === 451 || why.status === 403) {
      const delayMs = this.#options.blockedRetryMs;
      const message = `${this.#name} blocked (HTTP ${why.status}): the exchange refuses this ` +
        `location; retrying every ${humanMs(delayMs)}; other markets continue`;
      const notice = { event: "feed.blocked", fields: { status: why.status, message } };
      return { delayMs, state: "blocked", detail: message, notice };
    }
    const delayMs = this.#backoff.next();
    const detail = why.error ?? "connection closed";
    return { delayMs, state: "down", detail, notice: this.#failureNotice(link, why, delayMs) };
  }

  /** The log line of a failed attempt: in full, condensed, or at debug (see `FailureLog`). */
  #failureNotice(link: Link, why: LinkEnd, retryInMs: number): StateNotice {
    const error = why.error ?? "connection closed";
    const verdict = this.#failures.failed(this.#name);
    if (verdict.log === "repeat") {
      const { attempts, downMs } = verdict;
      const message = stillDownText(this.#name, attempts, error, retryInMs);
      return { event: "feed.still_down", fields: { attempts, downMs, error, retryInMs, message } };
    }
    return {
      event: "feed.disconnected",
      level: verdict.log === "first" ? "warn" : "debug",
      fields: { url: safeUrl(link.url), error, retryInMs, attempts: verdict.attempts },
    };
  }
}

/** `10 min`, `30 s`, `250 ms`. */
function humanMs(ms: number): string {
  if (ms >= 60_000 && ms % 60_000 === 0) return `${ms / 60_000} min`;
  if (ms >= 1000 && ms % 1000 === 0) return `${ms / 1000} s`;
  return `${ms} ms`;
}
