/**
 * The failover core: where every trade goes, and when.
 *
 * Guarantees (each proven by tests/failover and the chaos run):
 * - Every submitted trade ends up acknowledged by the primary, or durably in the outbox, or is
 *   counted as dropped with a logged reason (outbox full, disk failure), or, when the primary
 *   refuses it for its content (a key of the wrong type), kept as a dead letter while the other
 *   trades and markets go on ({@link DeadLetterSink}).
 * - Trades reach the primary in submission order: directly only while the outbox holds nothing,
 *   otherwise through the outbox, which the replayer drains oldest first.
 * - A batch whose outcome is unknown (deadline missed, reset mid-pipeline) goes to the outbox
 *   whole; the idempotent apply script makes the resulting duplicates harmless.
 * - Ingestion never waits on a Redis: `submit` is synchronous, and a primary write waits at most
 *   `deadlineMs` before its batch is moved to the outbox.
 *
 * An unreachable primary is logged calmly ({@link PrimaryHealth}): its first failure in full, then
 * at most one "still unreachable" line per `failureLogIntervalMs`, and one line when it answers.
 *
 * Only the pump loop changes the mode, through `#setMode`, which logs from -> to with a reason;
 * `btcfeed failover` only asks for it (the stream passes the control file on to `setForced`).
 * The probe loop ({@link PrimaryHealth}) only reports health; the pump acts on it between writes,
 * so a mode change never races an in-flight batch.
 */

import type { Trade } from "../trade.ts";
import type { RedisTarget } from "./targets.ts";
import type { Outbox } from "../store/outbox.ts";
import type { Mode } from "../domain.ts";
import {
  type CoreCounters,
  type CoreStatus,
  type Transition,
  zeroCounters,
} from "../runtime/status.ts";
import { Alarm, type MonotonicClock, monotonicNow, withDeadline } from "../time.ts";
import { type ReplayedBatch, Replayer } from "./replayer.ts";
import { FailoverMirror } from "./mirror.ts";
import { PrimaryHealth } from "./primary_health.ts";
import { DeadLetterSink } from "./dead_letter_sink.ts";
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
  /** Measures the hold-down and latencies (transition times are wall time). @default monotonicNow */
  clock?: MonotonicClock;
}

export class FailoverCore {
  #deps: FailoverCoreDeps;
  #options: FailoverCoreOptions;
  #clock: MonotonicClock;
  #mode: Mode = "primary";
  #forced: boolean;
  #transitions: Transition[] = [];
  #pending: Trade[] = [];
  #primary: PrimaryHealth;
  #mirror: FailoverMirror | null;
  /** Set by the probe loop when the primary fails while in `primary` mode; acted on by the pump. */
  #primaryFault: string | null = null;
  #outboxError: string | null = null;
  #syncDone: number | null = null;
  #replayer: Replayer;
  #deadLetters: DeadLetterSink;
  #alarm = new Alarm();
  #abort = new AbortController();
  #loops: Promise<void>[] = [];
  readonly counters: CoreCounters = zeroCounters();

  constructor(deps: FailoverCoreDeps, options: Partial<FailoverCoreOptions> = {}) {
    this.#deps = deps;
    this.#options = { ...DEFAULT_FAILOVER_CORE_OPTIONS, ...options };
    this.#clock = deps.clock ?? monotonicNow;
    this.#forced = deps.forced;
    this.#primary = new PrimaryHealth({
      probe: deps.primary.probe,
      url: deps.primary.url,
      deadlineMs: this.#options.deadlineMs,
      probeIntervalMs: this.#options.probeIntervalMs,
      clock: this.#clock,
      failureLogIntervalMs: this.#options.failureLogIntervalMs,
      onLatency: (ms) => deps.onLatency?.("primary", ms),
      onProbeFailed: (error) => {
        if (this.#mode !== "primary") return;
        this.#primaryFault = error;
        this.#alarm.wake();
      },
    });
    this.#mirror = deps.failover
      ? new FailoverMirror(deps.failover, deps.isConsolidated, {
        deadlineMs: this.#options.deadlineMs,
        probeIntervalMs: this.#options.probeIntervalMs,
        maxBatch: this.#options.maxBatch,
        maxBacklog: this.#options.maxFailoverBacklog,
      }, (ms) =>
        deps.onLatency?.("failover", ms), this.#clock)
      : null;
    this.#replayer = new Replayer(deps.outbox, deps.primary.replayWriter, deps.isConsolidated, {
      holder: deps.holder,
      deadlineMs: Math.max(this.#options.deadlineMs * 10, 2_000),
    });
    this.#deadLetters = new DeadLetterSink(deps.outbox);
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
    this.#loops = [this.#pump(signal), this.#primary.run(signal)];
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
      counters: {
        ...this.counters,
        writtenFailover: this.#mirror?.written ?? 0,
        mirrorDropped: this.#mirror?.dropped ?? 0,
      },
      outbox: {
        depth,
        bytes: outbox.bytes(),
        maxTrades: outbox.maxTrades,
        full: outbox.isFull(),
        lastError: this.#outboxError,
        deadLetters: outbox.deadLetterCount(),
      },
      sync: this.#syncDone === null
        ? null
        : { done: this.#syncDone, total: this.#syncDone + depth },
      primary: this.#primary.status,
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
    this.#syncDone = to === "syncing" ? 0 : null;
    this.#transitions.push({ at: Date.now(), from, to, reason });
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
        if (await this.#sync(signal)) continue;
      }
      await this.#alarm.sleep(
        this.#mode === "primary" ? 1_000 : this.#options.probeIntervalMs,
        signal,
      );
    }
  }

  async #writePrimary(): Promise<void> {
    const batch = this.#pending.splice(0, this.#options.maxBatch);
    const started = this.#clock();
    try {
      const result = await withDeadline(
        this.#deps.primary.writer.apply(batch, this.#deps.isConsolidated),
        this.#options.deadlineMs,
        "primary write",
      );
      this.#deps.onLatency?.("primary", this.#clock() - started);
      this.counters.writtenPrimary += result.applied;
      this.counters.duplicates += result.duplicates + result.stale;
      this.#reportOutOfOrder(result.outOfOrder);
      this.counters.dropped += this.#deadLetters.store(result.rejected);
    } catch (e) {
      // Unknown outcome: the whole batch goes to the outbox ahead of everything pending.
      this.#pending.unshift(...batch);
      this.#leavePrimary(this.#primary.markDown(e));
    }
  }

  /** Moves everything pending to the outbox, then switches to failover; synchronous, so ordered. */
  #leavePrimary(reason: string): void {
    const pending = this.#pending.splice(0);
    this.#toOutbox(pending);
    this.#toFailover(pending);
    this.#primaryFault = null;
    this.#primary.restartHoldDown();
    if (this.#mode === "syncing") this.#replayer.release();
    this.#setMode("failover", reason);
  }

  /** Drains the outbox while syncing; true when the pump should look again at once. */
  async #sync(signal: AbortSignal): Promise<boolean> {
    const outcome = await this.#replayer.drain({
      signal,
      proceed: () => !this.#forced,
      onBatch: (batch) => this.#countReplayed(batch),
    });
    if (outcome.kind === "failed") {
      this.#leavePrimary(this.#primary.markDown(outcome.error));
      return false;
    }
    if (outcome.kind !== "drained") return outcome.kind === "stopped";
    if (this.#deps.outbox.depth() === 0) this.#setMode("primary", "outbox drained");
    return true;
  }

  #countReplayed(batch: ReplayedBatch): void {
    this.counters.replayed += batch.applied;
    this.counters.duplicates += batch.duplicates;
    this.counters.outOfOrder += batch.outOfOrder;
    this.#deadLetters.note(batch.rejected);
    if (this.#syncDone !== null) this.#syncDone += batch.rows;
  }

  #primaryReady(): boolean {
    return !this.#forced && this.#primary.healthyFor(this.#options.holdDownMs);
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

  #reportOutOfOrder(trades: Trade[]): void {
    if (!trades.length) return;
    this.counters.outOfOrder += trades.length;
    log.error("trades older than the primary's newest were not appended (out-of-order)", {
      count: trades.length,
      first: `${trades[0].market} ${trades[0].id}`,
    });
  }
}
