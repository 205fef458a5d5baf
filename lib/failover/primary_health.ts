/**
 * The primary's health as the failover core sees it: probed every `probeIntervalMs` with a
 * deadline, and marked down by the core too when a write fails.
 *
 * Writes, not PING, decide health: the probe is a write ({@link WriteProbe}), so a primary that
 * answers PING but refuses writes (a read-only replica, OOM, MISCONF, a missing ACL permission,
 * LOADING) never counts as healthy, and the core stays in failover with that reason until a
 * write succeeds, instead of going failover -> syncing -> failover every hold-down.
 *
 * Invariants:
 * - `healthySince` is the (monotonic) time of the first answer after the last failure, null
 *   while failing; the core's hold-down counts from it, so any failure restarts the hold-down.
 * - A calm log per outage, not a line per probe (the cause may alternate: refused, timed out):
 *   the first failure in full, then at most one "still unreachable" (or "still refusing
 *   writes") line per `failureLogIntervalMs`, every other probe at debug, and one line when it
 *   answers again. A change of reason (unreachable -> READONLY) is logged in full once.
 * - `status.reason` is the machine-readable reason of `status.lastError` (both null when healthy).
 * - It only reports: a failed probe calls `onProbeFailed`; the core decides what to do.
 */

import type { RedisTargetStatus } from "../runtime/status.ts";
import { type MonotonicClock, sleep } from "../time.ts";
import {
  classifyRedisError,
  describeRedisError,
  type RedisFailureReason,
  redisFailureReason,
} from "../redis/errors.ts";
import type { WriteProbe } from "../redis/write_probe.ts";
import { log } from "../log.ts";
import { FailureLog, recoveredText, stillDownText } from "../failure_log.ts";

/** What {@link PrimaryHealth} probes and reports to. */
export interface PrimaryHealthDeps {
  /** The write probe on the primary's client. */
  probe: Pick<WriteProbe, "within">;
  /** Redacted URL. */
  url: string;
  deadlineMs: number;
  probeIntervalMs: number;
  failureLogIntervalMs: number;
  clock: MonotonicClock;
  onLatency?: (ms: number) => void;
  /** A probe failed; `error` is the one-line description. */
  onProbeFailed: (error: string) => void;
}

const KEY = "primary";
const WHAT = "primary redis";
/** Reasons that mean the primary answers but refuses writes. */
const REFUSALS = new Set<RedisFailureReason>(["readonly", "oom", "misconf", "noperm", "loading"]);

export class PrimaryHealth {
  #deps: PrimaryHealthDeps;
  #status: RedisTargetStatus;
  #healthySince: number | null = null;
  #failures: FailureLog;

  constructor(deps: PrimaryHealthDeps) {
    this.#deps = deps;
    this.#status = {
      url: deps.url,
      healthy: false,
      latencyMs: null,
      lastError: null,
      reason: null,
    };
    this.#failures = new FailureLog({ intervalMs: deps.failureLogIntervalMs }, deps.clock);
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
    return this.#healthySince !== null && this.#deps.clock() - this.#healthySince >= ms;
  }

  /** Probes until `signal` aborts. */
  async run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      await this.#probe();
      await sleep(this.#deps.probeIntervalMs, signal);
    }
  }

  /** Records a failure seen by a probe or a write; the hold-down starts again. Returns its text. */
  markDown(e: unknown): string {
    const error = describeRedisError(e, this.#deps.url);
    const reason = redisFailureReason(e);
    const verdict = this.#failures.failed(KEY);
    const fields = { url: this.#deps.url, error, reason, kind: classifyRedisError(e) };
    const changed = verdict.log !== "first" && reason !== this.#status.reason;
    if (verdict.log === "repeat" && !changed) {
      const { attempts, downMs } = verdict;
      const refusing = REFUSALS.has(reason);
      const text = stillDownText(WHAT, attempts, error, this.#deps.probeIntervalMs);
      log.warn(`primary redis still ${refusing ? "refusing writes" : "unreachable"}`, {
        ...fields,
        attempts,
        downMs,
        message: refusing ? text.replace("still unreachable", "still refusing writes") : text,
      });
    } else {
      const loud = verdict.log === "first" || changed;
      (loud ? log.warn : log.debug).call(log, "primary redis unhealthy", {
        ...fields,
        attempts: verdict.attempts,
        ...(changed && { previousReason: this.#status.reason }),
      });
    }
    this.#status = { ...this.#status, healthy: false, lastError: error, reason };
    this.#healthySince = null;
    return error;
  }

  /** Forgets since when the primary is healthy (the core left it). */
  restartHoldDown(): void {
    this.#healthySince = null;
  }

  async #probe(): Promise<void> {
    try {
      const ms = await this.#deps.probe.within(this.#deps.deadlineMs);
      this.#deps.onLatency?.(ms);
      if (!this.#status.healthy) {
        const recovery = this.#failures.recovered(KEY);
        log.info("primary redis answering", {
          url: this.#deps.url,
          ...(recovery && { ...recovery, message: recoveredText(WHAT, recovery) }),
        });
      }
      this.#status = {
        ...this.#status,
        healthy: true,
        latencyMs: ms,
        lastError: null,
        reason: null,
      };
      this.#healthySince ??= this.#deps.clock();
    } catch (e) {
      this.#deps.onProbeFailed(this.markDown(e));
    }
  }
}
