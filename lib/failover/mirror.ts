/**
 * The failover Redis as a best-effort local mirror while the primary is not in use, so local
 * readers keep fresh prices during an outage.
 *
 * Invariants:
 * - It never blocks the core: `enqueue` is synchronous and bounded; beyond `maxBacklog` the oldest
 *   queued trades skip the mirror (the outbox, the system of record, has them).
 * - Writes go in order, one batch at a time, each with a deadline; a failed write marks the mirror
 *   unhealthy and it waits for a probe to answer before writing again. Trades skipped meanwhile
 *   leave a hole in the mirror only; later trades still append (their IDs are higher).
 */

import type { Trade } from "../trade.ts";
import type { RedisTarget } from "./targets.ts";
import type { RedisTargetStatus } from "../runtime/status.ts";
import { type MonotonicClock, monotonicNow, sleep, withDeadline } from "../time.ts";
import { pingWithin } from "../redis/client.ts";
import { describeRedisError } from "../redis/errors.ts";
import { log } from "../log.ts";

export interface MirrorOptions {
  deadlineMs: number;
  probeIntervalMs: number;
  maxBatch: number;
  maxBacklog: number;
}

export class FailoverMirror {
  #target: RedisTarget;
  #isConsolidated: (market: string) => boolean;
  #options: MirrorOptions;
  #queue: Trade[] = [];
  #health: RedisTargetStatus;
  #onLatency: (ms: number) => void;
  #clock: MonotonicClock;
  /** Trades the mirror applied. */
  written = 0;
  /** Trades that skipped the mirror because the backlog was full (the outbox has them). */
  dropped = 0;

  constructor(
    target: RedisTarget,
    isConsolidated: (market: string) => boolean,
    options: MirrorOptions,
    onLatency: (ms: number) => void = () => {},
    clock: MonotonicClock = monotonicNow,
  ) {
    this.#clock = clock;
    this.#target = target;
    this.#isConsolidated = isConsolidated;
    this.#options = options;
    this.#onLatency = onLatency;
    this.#health = { url: target.url, healthy: false, latencyMs: null, lastError: null };
  }

  enqueue(trades: Trade[]): void {
    for (const t of trades) this.#queue.push(t);
    const excess = this.#queue.length - this.#options.maxBacklog;
    if (excess > 0) {
      this.#queue.splice(0, excess);
      this.dropped += excess;
    }
  }

  health(): RedisTargetStatus {
    return { ...this.#health };
  }

  /** Runs the write and probe loops until `signal` aborts. */
  async run(signal: AbortSignal): Promise<void> {
    await Promise.all([this.#writeLoop(signal), this.#probeLoop(signal)]);
  }

  async #writeLoop(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      if (!this.#queue.length || !this.#health.healthy) {
        await sleep(this.#options.probeIntervalMs, signal);
        continue;
      }
      const batch = this.#queue.splice(0, this.#options.maxBatch);
      const started = this.#clock();
      try {
        const result = await withDeadline(
          this.#target.writer.apply(batch, this.#isConsolidated),
          this.#options.deadlineMs,
          "failover write",
        );
        this.#onLatency(this.#clock() - started);
        this.written += result.applied;
      } catch (e) {
        this.#down(e, "failover redis write failed");
      }
    }
  }

  async #probeLoop(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      try {
        const ms = await pingWithin(this.#target.redis, this.#options.deadlineMs);
        if (!this.#health.healthy) log.info("failover redis answering", { url: this.#target.url });
        this.#health = { ...this.#health, healthy: true, latencyMs: ms, lastError: null };
      } catch (e) {
        this.#down(e, "failover redis unreachable");
      }
      await sleep(this.#options.probeIntervalMs, signal);
    }
  }

  /** Marks the mirror down; warns once per outage. */
  #down(e: unknown, event: string): void {
    const error = describeRedisError(e, this.#target.url);
    if (this.#health.healthy || this.#health.lastError === null) {
      log.warn(event, { url: this.#target.url, error });
    }
    this.#health = { ...this.#health, healthy: false, lastError: error };
  }
}
