/**
 * The primary's health as the failover core sees it: probed every `probeIntervalMs` with a
 * deadline, and marked down by the core too when a write fails.
 *
 * Invariants:
 * - `healthySince` is the time of the first answer after the last failure, null while failing;
 *   the core's hold-down counts from it, so any failure restarts the hold-down.
 * - One warning per outage, not one per probe: the cause may alternate (refused, timed out).
 * - It only reports: a failed probe calls `onProbeFailed`; the core decides what to do.
 */

import type { Redis } from "ioredis";
import type { RedisTargetStatus } from "../runtime/status.ts";
import { abortableSleep } from "./deadline.ts";
import { classifyRedisError, describeRedisError } from "../redis/errors.ts";
import { pingWithin } from "../redis/client.ts";
import { log } from "../log.ts";

/** What {@link PrimaryHealth} probes and reports to. */
export interface PrimaryHealthDeps {
  redis: Redis;
  /** Redacted URL. */
  url: string;
  deadlineMs: number;
  probeIntervalMs: number;
  now: () => number;
  onLatency?: (ms: number) => void;
  /** A probe failed; `error` is the one-line description. */
  onProbeFailed: (error: string) => void;
}

export class PrimaryHealth {
  #deps: PrimaryHealthDeps;
  #status: RedisTargetStatus;
  #healthySince: number | null = null;

  constructor(deps: PrimaryHealthDeps) {
    this.#deps = deps;
    this.#status = { url: deps.url, healthy: false, latencyMs: null, lastError: null };
  }

  /** A copy of the current view, for the status file. */
  get status(): RedisTargetStatus {
    return { ...this.#status };
  }

  /** The one-line description of the last failure, or null. */
  get lastError(): string | null {
    return this.#status.lastError;
  }

  /** True once the primary has answered every probe for at least `ms`. */
  healthyFor(ms: number): boolean {
    return this.#healthySince !== null && this.#deps.now() - this.#healthySince >= ms;
  }

  /** Probes until `signal` aborts. */
  async run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      await this.#probe();
      await abortableSleep(this.#deps.probeIntervalMs, signal);
    }
  }

  /** Records a failure seen by a probe or a write; the hold-down starts again. Returns its text. */
  markDown(e: unknown): string {
    const error = describeRedisError(e, this.#deps.url);
    const wasUp = this.#status.healthy || this.#status.lastError === null;
    (wasUp ? log.warn : log.debug).call(log, "primary redis unhealthy", {
      url: this.#deps.url,
      error,
      kind: classifyRedisError(e),
    });
    this.#status = { ...this.#status, healthy: false, lastError: error };
    this.#healthySince = null;
    return error;
  }

  /** Forgets since when the primary is healthy (the core left it). */
  restartHoldDown(): void {
    this.#healthySince = null;
  }

  async #probe(): Promise<void> {
    try {
      const ms = await pingWithin(this.#deps.redis, this.#deps.deadlineMs);
      this.#deps.onLatency?.(ms);
      if (!this.#status.healthy) log.info("primary redis answering", { url: this.#deps.url });
      this.#status = { ...this.#status, healthy: true, latencyMs: ms, lastError: null };
      this.#healthySince ??= this.#deps.now();
    } catch (e) {
      this.#deps.onProbeFailed(this.markDown(e));
    }
  }
}
