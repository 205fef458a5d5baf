/**
 * Condenses repeated failures of one thing (a market's connection, the primary Redis) into a few
 * log lines: it only decides *whether* a failure is logged now; callers write the line.
 *
 * Guarantees, per key:
 * - The first failure of an outage is `first`: logged in full, with its error.
 * - While the key stays down, at most one `repeat` per `intervalMs` (counting from the last line
 *   logged); every other failure is `quiet` (debug at most). An outage of D ms and any number of
 *   attempts therefore logs at most 1 + D / intervalMs lines, plus one for the recovery.
 * - `recovered` answers once per outage, with its attempt count and duration; a key that was not
 *   down answers null.
 *
 * Time comes from the injected `now()`, so tests drive every path without sleeping.
 */

import { DEFAULT_FAILURE_LOG_OPTIONS, type FailureLogOptions } from "./defaults.ts";

export { DEFAULT_FAILURE_LOG_OPTIONS, type FailureLogOptions };

/** Whether to log a failure now; `attempts` counts the failures of this outage, this one included. */
export type FailureVerdict =
  | { log: "first"; attempts: 1 }
  | { log: "repeat"; attempts: number; downMs: number }
  | { log: "quiet"; attempts: number; downMs: number };

/** The end of an outage. */
export interface Recovery {
  attempts: number;
  downMs: number;
}

interface Outage {
  since: number;
  attempts: number;
  loggedAt: number;
}

/** Per-key outage bookkeeping that decides which failures reach the log. */
export class FailureLog {
  readonly options: Readonly<FailureLogOptions>;
  #now: () => number;
  #outages = new Map<string, Outage>();

  constructor(options: Partial<FailureLogOptions> = {}, now: () => number = Date.now) {
    this.options = Object.freeze({ ...DEFAULT_FAILURE_LOG_OPTIONS, ...options });
    this.#now = now;
  }

  /** Counts one failure of `key` and says whether to log it. */
  failed(key: string): FailureVerdict {
    const now = this.#now();
    const outage = this.#outages.get(key);
    if (!outage) {
      this.#outages.set(key, { since: now, attempts: 1, loggedAt: now });
      return { log: "first", attempts: 1 };
    }
    outage.attempts++;
    const downMs = now - outage.since;
    if (now - outage.loggedAt < this.options.intervalMs) {
      return { log: "quiet", attempts: outage.attempts, downMs };
    }
    outage.loggedAt = now;
    return { log: "repeat", attempts: outage.attempts, downMs };
  }

  /** Ends the outage of `key`; null when it was not down. */
  recovered(key: string): Recovery | null {
    const outage = this.#outages.get(key);
    if (!outage) return null;
    this.#outages.delete(key);
    return { attempts: outage.attempts, downMs: this.#now() - outage.since };
  }

  /** Whether `key` is in an outage. */
  isDown(key: string): boolean {
    return this.#outages.has(key);
  }
}

/** `binance:BTC-USDT still unreachable after 14 attempts: <error>; next try in 30 s` */
export function stillDownText(
  subject: string,
  attempts: number,
  error: string,
  nextTryMs: number,
): string {
  return `${subject} still unreachable after ${attempts} attempts: ${error}; ` +
    `next try in ${seconds(nextTryMs)}`;
}

/** `binance:BTC-USDT reachable again after 14 attempts / 412 s down` */
export function recoveredText(subject: string, recovery: Recovery): string {
  const n = recovery.attempts;
  return `${subject} reachable again after ${n} attempt${n === 1 ? "" : "s"} / ` +
    `${seconds(recovery.downMs)} down`;
}

/** `30 s`, `2.5 s`, `0.25 s`: whole seconds from 10 s on, else up to two decimals. */
export function seconds(ms: number): string {
  const s = ms / 1000;
  return `${s >= 10 ? Math.round(s) : Number(s.toFixed(2))} s`;
}
