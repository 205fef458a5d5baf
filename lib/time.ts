/**
 * Time, once: sleeps that stop when their loop is aborted or woken, deadlines on promises, and the
 * two clocks the program reads.
 *
 * - {@link monotonicNow} (`performance.now()`) measures durations: hold-down, latencies, ages of
 *   links and timers. It never jumps when the wall clock is set, so a hold-down cannot be cut short
 *   or stretched by NTP.
 * - The wall clock (`Date.now()`) is read only where a wall time is the point: a trade's
 *   `receivedAt`, the status heartbeat and other times written to disk or shown to people.
 *
 * Both are injected where tests need to drive them ({@link Clock}, `now` options).
 */

/** Milliseconds from an arbitrary origin that never goes backwards; for durations only. */
export type MonotonicClock = () => number;

/** The real monotonic clock. */
export const monotonicNow: MonotonicClock = () => performance.now();

/** A wall clock with one-shot timers, injected into the feed so tests can drive it. */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Calls `fn` once after `ms`; returns a handle for {@link Clock.clearTimeout}. */
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** The real clock. */
export const SYSTEM_CLOCK: Clock = Object.freeze({
  now: () => Date.now(),
  setTimeout: (fn: () => void, ms: number): unknown => setTimeout(fn, ms),
  clearTimeout: (handle: unknown) => clearTimeout(handle as number),
});

/**
 * A write, read or probe that did not finish in time; its outcome is unknown.
 * `classifyRedisError` counts it (by class) as transient, like any other timeout.
 */
export class DeadlineError extends Error {
  override name = "DeadlineError";
  constructor(what: string, ms: number) {
    super(`${what} timed out after ${ms} ms`);
  }
}

/**
 * Resolves like `promise`, or rejects after `ms` with `timeout()` (default a
 * {@link DeadlineError} naming `what`). The loser never surfaces as an unhandled rejection.
 */
export function withDeadline<T>(
  promise: Promise<T>,
  ms: number,
  what: string,
  timeout: () => Error = () => new DeadlineError(what, ms),
): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(timeout()), ms);
  });
  promise.catch(() => {});
  return Promise.race([promise, expired]).finally(() => clearTimeout(timer));
}

/** Resolves after `ms`, or at once when `signal` aborts (or has aborted). Never rejects. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
  });
}

/** An interruptible sleep for a loop that others wake when there is work (new trades, records). */
export class Alarm {
  #woken = new AbortController();

  /** Sleeps up to `ms`; {@link wake} or aborting `signal` cuts it short. */
  sleep(ms: number, signal: AbortSignal): Promise<void> {
    this.#woken = new AbortController();
    return sleep(ms, AbortSignal.any([signal, this.#woken.signal]));
  }

  /** Ends the current sleep, if any. */
  wake(): void {
    this.#woken.abort();
  }
}
