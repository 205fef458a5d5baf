/**
 * Time limits for the core's loops: deadlines for Redis round trips (detection must not wait for
 * TCP timeouts) and sleeps that stop at once when their loop is aborted or woken.
 */

/**
 * A write or probe that did not finish in time; its outcome is unknown. Its message says
 * "timed out", so `classifyRedisError` counts it as transient like any other timeout.
 */
export class DeadlineError extends Error {
  override name = "DeadlineError";
  constructor(what: string, ms: number) {
    super(`${what} timed out after ${ms} ms`);
  }
}

/** Resolves like `promise`, or rejects with {@link DeadlineError} after `ms`. */
export function withDeadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new DeadlineError(what, ms)), ms);
  });
  // The loser must never surface as an unhandled rejection.
  promise.catch(() => {});
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Resolves after `ms`, or at once when `signal` aborts. */
export function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
  });
}

/** An interruptible sleep for a loop that others wake when there is work (new trades, records). */
export class Alarm {
  #woken = new AbortController();

  /** Sleeps up to `ms`; {@link wake} or aborting `signal` cuts it short. */
  sleep(ms: number, signal: AbortSignal): Promise<void> {
    this.#woken = new AbortController();
    return abortableSleep(ms, AbortSignal.any([signal, this.#woken.signal]));
  }

  /** Ends the current sleep, if any. */
  wake(): void {
    this.#woken.abort();
  }
}
