/** Deadlines for Redis round trips: detection must not wait for TCP timeouts. */

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
