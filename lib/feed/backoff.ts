/**
 * Reconnect delays: jittered, capped exponential backoff.
 *
 * Guarantees:
 * - Every delay is at least {@link MIN_BACKOFF_DELAY_MS} and at most `maxMs`: a failing peer can
 *   never put the feed into a hot loop, and a long outage never waits longer than the cap.
 * - Delays spread by ±`jitter` around the exponential base, so many clients that lost the same
 *   server do not reconnect in lock step.
 * - A connection that stayed up for `stableAfterMs` resets the sequence: the next failure starts
 *   again at `initialMs`; a connection that flaps (opens, then dies quickly) keeps growing it.
 */

/** Tuning of {@link Backoff}. */
export interface BackoffOptions {
  /** Base delay of the first retry. @default 500 */
  initialMs: number;
  /** Upper bound of any delay, jitter included. @default 30_000 */
  maxMs: number;
  /** Growth of the base delay per failed attempt. @default 2 */
  factor: number;
  /** Relative jitter: the delay is base × (1 ± jitter). @default 0.3 */
  jitter: number;
  /** A connection up at least this long resets the backoff. @default 30_000 */
  stableAfterMs: number;
}

/** The defaults of {@link BackoffOptions}. */
export const DEFAULT_BACKOFF_OPTIONS: Readonly<BackoffOptions> = Object.freeze({
  initialMs: 500,
  maxMs: 30_000,
  factor: 2,
  jitter: 0.3,
  stableAfterMs: 30_000,
});

/** No delay is ever shorter than this, whatever the options say. */
export const MIN_BACKOFF_DELAY_MS = 10;

/** Exponential backoff state for one reconnecting peer. */
export class Backoff {
  readonly options: Readonly<BackoffOptions>;
  #random: () => number;
  #attempt = 0;

  /**
   * @param options overrides of {@link DEFAULT_BACKOFF_OPTIONS}
   * @param random a source of numbers in [0, 1) (injected so tests are deterministic)
   */
  constructor(options: Partial<BackoffOptions> = {}, random: () => number = Math.random) {
    const o = { ...DEFAULT_BACKOFF_OPTIONS, ...options };
    this.options = Object.freeze({
      initialMs: finiteAtLeast(o.initialMs, MIN_BACKOFF_DELAY_MS),
      maxMs: finiteAtLeast(o.maxMs, MIN_BACKOFF_DELAY_MS),
      factor: finiteAtLeast(o.factor, 1),
      jitter: Math.min(Math.max(Number.isFinite(o.jitter) ? o.jitter : 0, 0), 0.9),
      stableAfterMs: finiteAtLeast(o.stableAfterMs, 0),
    });
    this.#random = random;
  }

  /** Failed attempts since the last reset. */
  get attempts(): number {
    return this.#attempt;
  }

  /** The delay before the next attempt; counts one more failed attempt. */
  next(): number {
    const { initialMs, maxMs, factor, jitter } = this.options;
    // Exponent capped so the base stays finite however long the outage lasts.
    const base = Math.min(maxMs, initialMs * factor ** Math.min(this.#attempt, 64));
    this.#attempt++;
    const r = this.#random();
    const unit = Number.isFinite(r) ? Math.min(Math.max(r, 0), 1) : 0.5;
    const delay = base * (1 + jitter * (2 * unit - 1));
    return Math.round(Math.min(maxMs, Math.max(MIN_BACKOFF_DELAY_MS, delay)));
  }

  /** Starts again at `initialMs`. */
  reset(): void {
    this.#attempt = 0;
  }

  /**
   * Tells the backoff a connection that opened at `openedAt` has ended at `closedAt`; resets the
   * backoff when it stayed up for at least `stableAfterMs`. Returns true when it reset.
   */
  connectionEnded(openedAt: number, closedAt: number): boolean {
    if (closedAt - openedAt >= this.options.stableAfterMs) {
      this.reset();
      return true;
    }
    return false;
  }
}

function finiteAtLeast(v: number, min: number): number {
  return Number.isFinite(v) ? Math.max(v, min) : min;
}
