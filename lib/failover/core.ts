/**
 * The failover core: where every trade goes, and when.
 *
 * Guarantees (each proven by tests/failover and the chaos run):
 * - Every submitted trade ends up acknowledged by the primary, or durably in the outbox, or is
 *   counted as dropped with a logged reason (outbox full, disk failure).
 * - Trades reach the primary in submission order: directly only while the outbox holds nothing,
 *   otherwise through the outbox, which the replayer drains oldest first.
 * - A batch whose outcome is unknown (deadline missed, reset mid-pipeline) goes to the outbox
 *   whole; the idempotent apply script makes the resulting duplicates harmless.
 * - Ingestion never waits on a Redis: `submit` is synchronous, and a primary write waits at most
 *   `deadlineMs` before its batch is moved to the outbox.
 *
 * Only the pump loop changes the mode, through `#setMode`, which logs from -> to with a reason.
 * The probe loop only reports health; the pump acts on it between writes, so a mode change never
 * races an in-flight batch.
 */

import type { Trade } from "../trade.ts";
import type { RedisTarget } from "./targets.ts";
import type { Outbox } from "../store/outbox.ts";
import type { Mode } from "../domain.ts";
import type { RedisTargetStatus, StreamStatus, Transition } from "../runtime/status.ts";
import { abortableSleep, Alarm, withDeadline } from "./deadline.ts";
import { Replayer } from "./replayer.ts";
import { FailoverMirror } from "./mirror.ts";
import { classifyRedisError, describeRedisError } from "../redis/errors.ts";
import { pingWithin } from "../redis/client.ts";
import { log } from "../log.ts";
import { DEFAULT_FAILOVER_CORE_OPTIONS, type FailoverCoreOptions } from "../defaults.ts";

export { DEFAULT_FAILOVER_CORE_OPTIONS, type FailoverCoreOptions };

export interface FailoverCoreDeps {
  primary: RedisTarget;
  failover: RedisTarget | null;
  outbox: Outbox;
  /** Whether a market currently feeds the consolidated price. */
  isConsolidated: (market: string) => boolean;
  /** Unique lease holder name for this process. */
  holder: string;
  /** Starts in forced failover (from the persisted control record). */
  forced: boolean;
  /** Round-trip observations for metrics. */
  onLatency?: (target: "primary" | "failover", ms: number) => void;
  now?: () => number;
}

type CoreStatus = Pick<
  StreamStatus,
  "mode" | "forced" | "transitions" | "counters" | "outbox" | "sync" | "primary" | "failover"
>;

export class FailoverCore {
  #deps: FailoverCoreDeps;
  #options: FailoverCoreOptions;
  #now: () => number;
  #mode: Mode = "primary";
  #forced: boolean;
  #transitions: Transition[] = [];
  #pending: Trade[] = [];
  #primaryHealth: RedisTargetStatus;
  #mirror: FailoverMirror | null;
  #healthySince: number | null = null;
  /** Set by the probe loop when the primary fails while in `primary` mode; acted on by the pump. */
  #primaryFault: string | null = null;
  #outboxError: string | null = null;
  #sync: { done: number } | null = null;
  #replayer: Replayer;
  #alarm = new Alarm();
  #abort = new AbortController();
  #loops: Promise<void>[] = [];
  readonly counters: StreamStatus["counters"] = {
    tradesReceived: 0,
    writtenPrimary: 0,
    writtenFailover: 0,
    outboxAppended: 0,
    replayed: 0,
    duplicates: 0,
    outOfOrder: 0,
    dropped: 0,
    failovers: 0,
  };

  constructor(deps: FailoverCoreDeps, options: Partial<FailoverCoreOptions> = {}) {
    this.#deps = deps;
    this.#options = { ...DEFAULT_FAILOVER_CORE_OPTIONS, ...options };
    this.#now = deps.now ?? Date.now;
    this.#forced = deps.forced;
    this.#primaryHealth = {
      url: deps.primary.url,
      healthy: false,
      latencyMs: null,
      lastError: null,
    };
    this.#mirror = deps.failover
      ? new FailoverMirror(deps.failover, deps.isConsolidated, {
        deadlineMs: this.#options.deadlineMs,
        probeIntervalMs: this.#options.probeIntervalMs,
        maxBatch: this.#options.maxBatch,
        maxBacklog: this.#options.maxFailoverBacklog,
      }, (ms) => deps.onLatency?.("failover", ms))
      : null;
    this.#replayer = new Replayer(deps.outbox, deps.primary.writer, deps.isConsolidated, {
      holder: deps.holder,
      deadlineMs: Math.max(this.#options.deadlineMs * 10, 2_000),
    });
    // Leftovers from an earlier run must be replayed before anything goes to the primary directly.
    if (this.#forced) this.#setMode("failover", "failover forced by `btcfeed failover`");
    else if (deps.outbox.depth() > 0) this.#setMode("failover", "outbox holds trades to replay");
  }

  get mode(): Mode {
    return this.#mode;
  }

  /** Accepts trades in order. Never blocks and never throws. */
  submit(trades: Trade[]): void {
    if (!trades.length) return;
    this.counters.tradesReceived += trades.length;
    if (this.#mode === "primary") {
      for (const t of trades) this.#pending.push(t);
      this.#alarm.wake();
    } else {
      this.#toOutbox(trades);
      this.#toFailover(trades);
    }
  }

  /** Forces the failover path, or returns to automatic mode. Takes effect at the next pump turn. */
  setForced(forced: boolean): void {
    if (forced === this.#forced) return;
    this.#forced = forced;
    log.info(forced ? "failover forced" : "failover released", {});
    this.#alarm.wake();
  }

  start(): void {
    const signal = this.#abort.signal;
    this.#loops = [this.#pump(signal), this.#probeLoop(signal)];
    if (this.#mirror) this.#loops.push(this.#mirror.run(signal));
  }

  /** Stops the loops; trades not yet acknowledged by the primary are left in the outbox. */
  async close(): Promise<void> {
    this.#abort.abort();
    await Promise.all(this.#loops);
    if (this.#pending.length) this.#toOutbox(this.#pending.splice(0));
    this.#replayer.release();
  }

  status(): CoreStatus {
    const outbox = this.#deps.outbox;
    const depth = outbox.depth();
    return {
      mode: this.#mode,
      forced: this.#forced,
      transitions: [...this.#transitions],
      counters: { ...this.counters, writtenFailover: this.#mirror?.written ?? 0 },
      outbox: {
        depth,
        bytes: outbox.bytes(),
        maxTrades: outbox.maxTrades,
        full: outbox.isFull(),
        lastError: this.#outboxError,
        deadLetters: outbox.deadLetterCount(),
      },
      sync: this.#sync ? { done: this.#sync.done, total: this.#sync.done + depth } : null,
      primary: { ...this.#primaryHealth },
      failover: this.#mirror?.health() ??
        { url: null, healthy: false, latencyMs: null, lastError: null },
    };
  }

  /** The one place the mode changes. */
  #setMode(to: Mode, reason: string): void {
    const from = this.#mode;
    if (from === to) return;
    this.#mode = to;
    if (to === "failover") this.counters.failovers++;
    this.#sync = to === "syncing" ? { done: 0 } : null;
    this.#transitions.push({ at: this.#now(), from, to, reason });
    if (this.#transitions.length > 20) this.#transitions.shift();
    (to === "failover" ? log.warn : log.info).call(log, "mode change", { from, to, reason });
  }

  async #pump(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      if (this.#forced && this.#mode !== "failover") {
        this.#leavePrimary("failover forced by `btcfeed failover`");
      } else if (this.#mode === "primary" && this.#primaryFault) {
        this.#leavePrimary(this.#primaryFault);
      } else if (this.#mode === "primary" && this.#pending.length) {
        await this.#writePrimary();
        continue;
      } else if (this.#mode === "failover" && this.#primaryReady()) {
        this.#setMode("syncing", `primary healthy for ${this.#options.holdDownMs} ms`);
      } else if (this.#mode === "syncing") {
        if (await this.#replayStep()) continue;
      }
      await this.#alarm.sleep(
        this.#mode === "primary" ? 1_000 : this.#options.probeIntervalMs,
        signal,
      );
    }
  }

  async #writePrimary(): Promise<void> {
    const batch = this.#pending.splice(0, this.#options.maxBatch);
    const started = this.#now();
    try {
      const result = await withDeadline(
        this.#deps.primary.writer.apply(batch, this.#deps.isConsolidated),
        this.#options.deadlineMs,
        "primary write",
      );
      this.#deps.onLatency?.("primary", this.#now() - started);
      this.counters.writtenPrimary += result.applied;
      this.counters.duplicates += result.duplicates + result.stale;
      this.#reportOutOfOrder(result.outOfOrder);
    } catch (e) {
      // Unknown outcome: the whole batch goes to the outbox ahead of everything pending.
      this.#pending.unshift(...batch);
      this.#markPrimaryDown(e);
      this.#leavePrimary(this.#primaryHealth.lastError ?? "primary write failed");
    }
  }

  /** Moves everything pending to the outbox, then switches to failover; synchronous, so ordered. */
  #leavePrimary(reason: string): void {
    const pending = this.#pending.splice(0);
    this.#toOutbox(pending);
    this.#toFailover(pending);
    this.#primaryFault = null;
    this.#healthySince = null;
    if (this.#mode === "syncing") this.#replayer.release();
    this.#setMode("failover", reason);
  }

  /** One replay batch; true when there may be more to do at once. */
  async #replayStep(): Promise<boolean> {
    try {
      const step = await this.#replayer.step();
      if (this.#mode !== "syncing") return false; // forced or failed meanwhile
      if (step.kind === "drained") {
        if (this.#deps.outbox.depth() === 0) this.#setMode("primary", "outbox drained");
        return true;
      }
      if (step.kind === "busy") return false;
      this.counters.replayed += step.applied;
      this.counters.duplicates += step.duplicates;
      this.counters.outOfOrder += step.deadLettered;
      this.#sync!.done += step.rows;
      return true;
    } catch (e) {
      this.#markPrimaryDown(e);
      this.#leavePrimary(this.#primaryHealth.lastError ?? "replay failed");
      return false;
    }
  }

  #primaryReady(): boolean {
    return !this.#forced && this.#healthySince !== null &&
      this.#now() - this.#healthySince >= this.#options.holdDownMs;
  }

  #toOutbox(trades: Trade[]): void {
    if (!trades.length) return;
    const outcome = this.#deps.outbox.append(trades);
    if (outcome.ok) {
      this.counters.outboxAppended += outcome.appended;
      if (this.#outboxError) log.info("outbox accepting trades again", {});
      this.#outboxError = null;
      return;
    }
    this.counters.dropped += outcome.dropped;
    if (this.#outboxError !== outcome.message) {
      log.error("outbox refused trades: they are dropped and counted", {
        reason: outcome.reason,
        dropped: outcome.dropped,
        message: outcome.message,
      });
    }
    this.#outboxError = outcome.message;
  }

  #toFailover(trades: Trade[]): void {
    if (trades.length) this.#mirror?.enqueue(trades);
  }

  async #probeLoop(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      await this.#probePrimary();
      await abortableSleep(this.#options.probeIntervalMs, signal);
    }
  }

  async #probePrimary(): Promise<void> {
    try {
      const ms = await pingWithin(this.#deps.primary.redis, this.#options.deadlineMs);
      this.#deps.onLatency?.("primary", ms);
      if (!this.#primaryHealth.healthy) {
        log.info("primary redis answering", { url: this.#deps.primary.url });
      }
      this.#primaryHealth = {
        ...this.#primaryHealth,
        healthy: true,
        latencyMs: ms,
        lastError: null,
      };
      this.#healthySince ??= this.#now();
    } catch (e) {
      this.#markPrimaryDown(e);
      if (this.#mode === "primary") {
        this.#primaryFault = this.#primaryHealth.lastError;
        this.#alarm.wake();
      }
    }
  }

  #markPrimaryDown(e: unknown): void {
    const error = describeRedisError(e, this.#deps.primary.url);
    // One warning per outage, not per probe: the cause may alternate (refused, timed out).
    const wasUp = this.#primaryHealth.healthy || this.#primaryHealth.lastError === null;
    (wasUp ? log.warn : log.debug).call(log, "primary redis unhealthy", {
      url: this.#deps.primary.url,
      error,
      kind: classifyRedisError(e),
    });
    this.#primaryHealth = { ...this.#primaryHealth, healthy: false, lastError: error };
    this.#healthySince = null;
  }

  #reportOutOfOrder(trades: Trade[]): void {
    if (!trades.length) return;
    this.counters.outOfOrder += trades.length;
    log.error("trades older than the primary's newest were not appended (out-of-order)", {
      count: trades.length,
      first: `${trades[0].market} ${trades[0].id}`,
    });
  }
}
