/**
 * The failover core: where every trade goes, and when.
 *
 * Guarantees (each proven by tests/failover and the chaos run):
 * - Every submitted trade is committed to the journal ({@link JournalIntake}, group commit) before
 *   it counts as received, and stays pending there until the primary acknowledged it (and, with
 *   `replicas`, `WAIT` confirmed it); or it is counted as dropped with a logged reason (outbox
 *   full, disk failure); or, when the primary refuses it for its content (a key of the wrong
 *   type), it is kept as a dead letter while the other trades and markets go on
 *   ({@link DeadLetterSink}).
 * - In `primary` mode committed trades are written from memory, then acknowledged in the journal;
 *   a failed or unknown write drops the memory copy (the journal has them pending) and fails over.
 *   In `failover`/`syncing` they simply stay pending and the replayer drains them oldest first.
 * - Trades reach the primary in commit order: `syncing` becomes `primary` synchronously when the
 *   journal has nothing pending, so no committed trade can be skipped.
 * - Ingestion never waits on a Redis: `submit` is synchronous; a primary write waits at most
 *   `deadlineMs`. A journal that cannot store (disk full) on the primary: written from memory
 *   (logged, health fail); on the failover path: counted as dropped.
 * An unreachable primary is logged calmly ({@link PrimaryHealth}).
 *
 * Only the pump loop changes the mode, through `#setMode`, which logs from -> to with a reason;
 * `btcfeed failover` only asks for it (the stream passes the control file on to `setForced`).
 * The probe loop ({@link PrimaryHealth}) only reports health; the pump acts on it between writes,
 * so a mode change never races an in-flight batch.
 */

import type { Trade } from "../trade.ts";
import type { CommitResult } from "../store/journal.ts";
import type { Mode } from "../domain.ts";
import {
  type CoreCounters,
  type CoreStatus,
  type Transition,
  zeroCounters,
} from "../runtime/status.ts";
import { Alarm, type MonotonicClock, monotonicNow } from "../time.ts";
import { JournalIntake } from "./intake.ts";
import { ReplicaShortfall } from "./replicas.ts";
import { JournalTrouble, routable } from "./journal_trouble.ts";
import { coreStatus, countApplied, countReplayed } from "./core_status.ts";
import type { ReconcileSchedule } from "./reconcile_schedule.ts";
import type { Replayer } from "./replayer.ts";
import type { FailoverMirror } from "./mirror.ts";
import type { PrimaryHealth } from "./primary_health.ts";
import type { DeadLetterSink } from "./dead_letter_sink.ts";
import type { DirectWrites } from "./direct_writes.ts";
import { buildCoreParts, type FailoverCoreDeps } from "./_core_parts.ts";
import { log } from "../log.ts";
import { DEFAULT_FAILOVER_CORE_OPTIONS, type FailoverCoreOptions } from "../defaults.ts";

export { DEFAULT_FAILOVER_CORE_OPTIONS, type FailoverCoreOptions };
export type { FailoverCoreDeps };

export class FailoverCore {
  #deps: FailoverCoreDeps;
  #options: FailoverCoreOptions;
  #clock: MonotonicClock;
  #mode: Mode = "primary";
  #forced: boolean;
  #transitions: Transition[] = [];
  /** Committed trades for a direct primary write (`primary` mode). */
  #direct: DirectWrites;
  #intake: JournalIntake;
  #primary: PrimaryHealth;
  #mirror: FailoverMirror | null;
  /** Set by the probe loop when the primary fails while in `primary` mode; acted on by the pump. */
  #primaryFault: string | null = null;
  #trouble = new JournalTrouble();
  #syncDone: number | null = null;
  #replayer: Replayer;
  #deadLetters: DeadLetterSink;
  #reconcile: ReconcileSchedule | null;
  #alarm = new Alarm();
  #abort = new AbortController();
  #loops: Promise<void>[] = [];
  readonly counters: CoreCounters = zeroCounters();

  constructor(deps: FailoverCoreDeps, options: Partial<FailoverCoreOptions> = {}) {
    this.#deps = deps;
    this.#options = { ...DEFAULT_FAILOVER_CORE_OPTIONS, ...options };
    this.#clock = deps.clock ?? monotonicNow;
    this.#forced = deps.forced;
    const parts = buildCoreParts(deps, this.#options, this.#clock, {
      onProbeFailed: (error) => {
        if (this.#mode !== "primary") return;
        this.#primaryFault = error;
        this.#alarm.wake();
      },
      refused: (chunks, rows) => this.counters.dropped += this.#deadLetters.store(chunks, rows),
      onReset: (r) => {
        this.counters.primaryResets++;
        this.counters.reconciledTrades += r.reapplied;
        deps.reconcile!.onReset(r);
      },
    });
    this.#primary = parts.primary;
    this.#mirror = parts.mirror;
    this.#deadLetters = parts.deadLetters;
    this.#reconcile = parts.reconcile;
    this.#direct = parts.direct;
    this.#replayer = parts.replayer;
    this.#intake = new JournalIntake(deps.journal, (r, s) => this.#committed(r, s), deps.intake);
    // Leftovers from an earlier run must be replayed before anything goes to the primary directly.
    if (this.#forced) this.#setMode("failover", "failover forced by `btcfeed failover`");
    else if (deps.journal.depth() > 0) this.#setMode("failover", "outbox holds trades to replay");
  }

  get mode(): Mode {
    return this.#mode;
  }

  /** Accepts trades in order; they count once committed. Never blocks and never throws. */
  submit(trades: Trade[]): void {
    if (trades.length) this.#intake.submit(trades);
  }

  /** Trades submitted but not yet committed or written (for pacing a replay). */
  backlog(): number {
    return this.#intake.buffered + this.#direct.size;
  }

  /** Routes one group commit: to memory for the primary, or left pending for the replayer. */
  #committed(result: CommitResult, submitted: Trade[]): void {
    this.counters.tradesReceived += submitted.length;
    const direct = this.#mode === "primary";
    const { trades, seqs, dropped } = routable(result, submitted, direct);
    this.counters.dropped += this.#trouble.note(result.outcome, dropped);
    if (direct) {
      this.#direct.push(trades, seqs);
      this.#alarm.wake();
    } else {
      this.counters.outboxAppended += result.stored.length;
      this.#mirror?.enqueue(trades);
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

  /** Stops the loops and commits what is buffered; everything unacknowledged stays pending. */
  async close(): Promise<void> {
    this.#abort.abort();
    await Promise.all(this.#loops);
    this.#intake.flush();
    this.#dropMemory(false);
    this.#replayer.release();
  }

  status(): CoreStatus {
    return coreStatus({
      mode: this.#mode,
      forced: this.#forced,
      transitions: this.#transitions,
      counters: this.counters,
      journal: this.#deps.journal,
      inMemory: this.#direct.size,
      journalError: this.#trouble.lastError ?? this.#direct.ackError,
      syncDone: this.#syncDone,
      repairing: this.#reconcile?.repairing ?? false,
      primary: this.#primary.status,
      mirror: this.#mirror,
    });
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
      } else if (this.#mode === "primary" && this.#reconcile?.due) {
        await this.#reconcileBeforeWriting();
      } else if (this.#mode === "primary" && this.#direct.size) {
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
    const outcome = await this.#direct.writeNext();
    const result = outcome.ok ? outcome.result : outcome.written;
    if (result) countApplied(this.counters, result);
    if (!outcome.ok) return this.#leavePrimary(this.#writeFailure(outcome.error));
    this.#deps.onLatency?.("primary", outcome.ms);
    if (outcome.foreign) {
      // Rows became pending behind the memory copy: replay the journal in seq order instead.
      this.#dropMemory(false);
      this.#setMode("syncing", "rows became pending again in the journal (dead-letter retry)");
    }
  }

  /** Why a write failed: a replica shortfall (the primary itself is fine), or the primary down. */
  #writeFailure(e: unknown): string {
    if (!(e instanceof ReplicaShortfall)) return this.#primary.markDown(e);
    this.counters.replicaShortfalls++;
    return e.message;
  }

  /** Leaves `primary`: the memory copy goes (the journal has it pending), the mirror gets it. */
  #leavePrimary(reason: string): void {
    this.#dropMemory(true);
    this.#primaryFault = null;
    this.#primary.restartHoldDown();
    this.#reconcile?.expire();
    if (this.#mode === "syncing") this.#replayer.release();
    this.#setMode("failover", reason);
  }

  /** Forgets the memory copy; trades that never reached the journal are counted as dropped. */
  #dropMemory(mirror: boolean): void {
    const { trades, unjournaled } = this.#direct.drop();
    if (unjournaled) {
      this.counters.dropped += unjournaled;
      log.error("trades the journal could not store were lost with the primary write", {
        dropped: unjournaled,
      });
    }
    if (mirror) this.#mirror?.enqueue(trades);
  }

  /** On the primary: a reset found makes its trades pending, and the journal is replayed. */
  async #reconcileBeforeWriting(): Promise<void> {
    if (!(await this.#reconciled())) return;
    this.#dropMemory(false);
    this.#setMode("syncing", "the primary lost acknowledged trades: re-applying the journal's");
  }

  /** Runs a due reconciliation; true when rows became pending; a primary not answering fails over. */
  async #reconciled(): Promise<boolean> {
    try {
      return (await this.#reconcile!.run()).length > 0;
    } catch (e) {
      this.#leavePrimary(this.#primary.markDown(e));
      return false;
    }
  }

  /** Drains the outbox while syncing; true when the pump should look again at once. */
  async #sync(signal: AbortSignal): Promise<boolean> {
    if (this.#reconcile?.due) {
      await this.#reconciled();
      if (this.#mode !== "syncing") return false;
    }
    const outcome = await this.#replayer.drain({
      signal,
      proceed: () => !this.#forced,
      onBatch: (batch) => {
        countReplayed(this.counters, batch);
        this.#deadLetters.note(batch.rejected);
        if (this.#syncDone !== null) this.#syncDone += batch.rows;
      },
    });
    if (outcome.kind === "failed") {
      this.#leavePrimary(this.#writeFailure(outcome.error));
      return false;
    }
    if (outcome.kind !== "drained") return outcome.kind === "stopped";
    if (this.#deps.journal.depth() > 0) return true;
    if (this.#reconcile) this.#reconcile.repairing = false;
    this.#setMode("primary", "outbox drained");
    return true;
  }

  #primaryReady(): boolean {
    return !this.#forced && this.#primary.healthyFor(this.#options.holdDownMs);
  }
}
