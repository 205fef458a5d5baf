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
 * - In a feeder group (`deps.group`) it writes only while holding the writer lease: `standby`
 *   journals ({@link StandbyDuty}), takes over through `syncing`, and is back at once when the
 *   lease is lost or a write fenced or failed. Forced failover still wins (lease given up).
 *
 * Only the pump loop changes the mode, through `#setMode`, which logs from -> to with a reason;
 * `btcfeed failover` only asks for it (the stream passes the control file on to `setForced`).
 * The probe loop ({@link PrimaryHealth}) only reports health; the pump acts on it between writes,
 * so a mode change never races an in-flight batch.
 */

import type { Trade } from "../trade.ts";
import type { CommitResult } from "../store/journal.ts";
import type { Mode } from "../domain.ts";
import { type CoreCounters, type CoreStatus, zeroCounters } from "../runtime/status.ts";
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
import type { StandbyDuty } from "./standby_duty.ts";
import { FencedError } from "../redis/writer.ts";
import { errorText } from "../redact.ts";
import { ModeState } from "./_mode_state.ts";
import { DEFAULT_FAILOVER_CORE_OPTIONS, type FailoverCoreOptions } from "../defaults.ts";

export { DEFAULT_FAILOVER_CORE_OPTIONS, type FailoverCoreOptions };
export type { FailoverCoreDeps };

export class FailoverCore {
  #deps: FailoverCoreDeps;
  #options: FailoverCoreOptions;
  #clock: MonotonicClock;
  #state: ModeState;
  /** Committed trades for a direct primary write (`primary` mode). */
  #direct: DirectWrites;
  #intake: JournalIntake;
  #primary: PrimaryHealth;
  #mirror: FailoverMirror | null;
  /** Set by the probe loop when the primary fails while in `primary` mode; acted on by the pump. */
  #primaryFault: string | null = null;
  #trouble = new JournalTrouble();
  #replayer: Replayer;
  #deadLetters: DeadLetterSink;
  #reconcile: ReconcileSchedule | null;
  #standby: StandbyDuty | null;
  #alarm = new Alarm();
  #abort = new AbortController();
  #loops: Promise<void>[] = [];
  readonly counters: CoreCounters = zeroCounters();

  constructor(deps: FailoverCoreDeps, options: Partial<FailoverCoreOptions> = {}) {
    this.#deps = deps;
    this.#options = { ...DEFAULT_FAILOVER_CORE_OPTIONS, ...options };
    this.#clock = deps.clock ?? monotonicNow;
    this.#state = new ModeState(deps.forced);
    const parts = buildCoreParts(deps, this.#options, this.#clock, this.counters, (error) => {
      if (this.#state.mode !== "primary") return;
      this.#primaryFault = error;
      this.#alarm.wake();
    });
    this.#primary = parts.primary;
    this.#mirror = parts.mirror;
    this.#deadLetters = parts.deadLetters;
    this.#reconcile = parts.reconcile;
    this.#direct = parts.direct;
    this.#replayer = parts.replayer;
    this.#standby = parts.standby;
    this.#intake = new JournalIntake(deps.journal, (r, s) => this.#committed(r, s), deps.intake);
    // Leftovers from an earlier run must be replayed before anything goes to the primary directly.
    if (this.#state.forced) this.#setMode("failover", "failover forced by `btcfeed failover`");
    else if (this.#standby?.seat) {
      this.#setMode("standby", "feeder group: waiting for the writer lease");
    } else if (deps.journal.depth() > 0) this.#setMode("failover", "outbox holds trades to replay");
  }

  get mode(): Mode {
    return this.#state.mode;
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
    const direct = this.#state.mode === "primary";
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
    if (this.#state.setForced(forced)) this.#alarm.wake();
  }

  start(): void {
    const signal = this.#abort.signal;
    this.#loops = [this.#pump(signal), this.#primary.run(signal)];
    if (this.#mirror) this.#loops.push(this.#mirror.run(signal));
    if (this.#standby) this.#loops.push(this.#standby.seat.run(signal));
  }

  /** Stops the loops and commits what is buffered; everything unacknowledged stays pending. */
  async close(): Promise<void> {
    this.#abort.abort();
    await Promise.all(this.#loops);
    this.#intake.flush();
    this.#dropMemory(false);
    this.#replayer.release();
    await this.#standby?.seat.close();
  }

  status(): CoreStatus {
    return coreStatus(this.#standby?.seat ?? null, {
      state: this.#state,
      counters: this.counters,
      journal: this.#deps.journal,
      inMemory: this.#direct.size,
      journalError: this.#trouble.lastError ?? this.#direct.ackError,
      repairing: this.#reconcile?.repairing ?? false,
      primary: this.#primary.status,
      mirror: this.#mirror,
    });
  }

  #setMode(to: Mode, reason: string): void {
    this.#state.set(to, reason, this.counters);
  }

  async #pump(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      if (this.#state.forced && this.#state.mode !== "failover") {
        this.#leavePrimary("failover forced by `btcfeed failover`");
      } else if (this.#standby && await this.#groupTurn()) {
        continue;
      } else if (this.#state.mode === "primary" && this.#primaryFault) {
        this.#leavePrimary(this.#primaryFault);
      } else if (this.#state.mode === "primary" && this.#reconcile?.due) {
        await this.#reconcileBeforeWriting();
      } else if (this.#state.mode === "primary" && this.#direct.size) {
        await this.#writePrimary();
        continue;
      } else if (this.#state.mode === "failover" && this.#standby && !this.#state.forced) {
        this.#setMode("standby", "failover released: back in the feeder group");
      } else if (this.#state.mode === "failover" && this.#primaryReady()) {
        this.#setMode("syncing", `primary healthy for ${this.#options.holdDownMs} ms`);
      } else if (this.#state.mode === "syncing") {
        if (await this.#sync(signal)) continue;
      }
      await this.#alarm.sleep(
        this.#state.mode === "primary" ? 1_000 : this.#options.probeIntervalMs,
        signal,
      );
    }
  }

  async #writePrimary(): Promise<void> {
    const outcome = await this.#direct.writeNext();
    const result = outcome.ok ? outcome.result : outcome.written;
    if (result) countApplied(this.counters, result);
    if (!outcome.ok) return this.#failWrite(outcome.error);
    this.#deps.onLatency?.("primary", outcome.ms);
    if (outcome.foreign) {
      // Rows became pending behind the memory copy: replay the journal in seq order instead.
      this.#dropMemory(false);
      this.#setMode("syncing", "rows became pending again in the journal (dead-letter retry)");
    }
  }

  /** Leaves `primary` after a failed write: fenced (another feeder writes), a replica shortfall (the primary itself is fine), or the primary down. */
  #failWrite(e: unknown): void {
    if (e instanceof FencedError) {
      this.counters.fenced++;
      return this.#leavePrimary(`write fenced: another feeder writes now (${errorText(e)})`, false);
    }
    if (!(e instanceof ReplicaShortfall)) return this.#leavePrimary(this.#primary.markDown(e));
    this.counters.replicaShortfalls++;
    this.#leavePrimary(e.message);
  }

  /**
   * Leaves `primary`: the memory copy goes (the journal has it pending), the mirror gets it. In
   * a group: to `standby`, the lease given up (`release`: deleted, so another feeder takes over).
   */
  #leavePrimary(reason: string, release = true): void {
    this.#dropMemory(true);
    this.#primaryFault = null;
    this.#primary.restartHoldDown();
    this.#reconcile?.expire();
    if (this.#state.mode === "syncing") this.#replayer.release();
    this.#standby?.seat.stepBack(reason, release);
    this.#setMode(this.#standby && !this.#state.forced ? "standby" : "failover", reason);
  }

  /** A group's part of a pump turn ({@link StandbyDuty.turn}); true when it changed the mode. */
  async #groupTurn(): Promise<boolean> {
    const action = await this.#standby!.turn(this.#state.mode, this.#primaryReady());
    if (action.kind === "stepBack") this.#leavePrimary(action.reason, false);
    if (action.kind !== "takeOver") return action.kind !== "none";
    this.#reconcile?.expire();
    this.#setMode("syncing", `writer lease taken (epoch ${action.epoch}): replaying the hand-over`);
    return true;
  }

  /** Forgets the memory copy; trades that never reached the journal are counted as dropped. */
  #dropMemory(mirror: boolean): void {
    const { trades, unjournaled } = this.#direct.drop();
    this.counters.dropped += unjournaled;
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
      if (this.#state.mode !== "syncing") return false;
    }
    const outcome = await this.#replayer.drain({
      signal,
      proceed: () => !this.#state.forced && (this.#standby?.seat.holds() ?? true),
      onBatch: (batch) => {
        countReplayed(this.counters, batch);
        this.#deadLetters.note(batch.rejected);
        if (this.#state.syncDone !== null) this.#state.syncDone += batch.rows;
      },
    });
    if (outcome.kind === "failed") {
      this.#failWrite(outcome.error);
      return false;
    }
    if (outcome.kind !== "drained") return outcome.kind === "stopped";
    if (this.#deps.journal.depth() > 0) return true;
    if (this.#reconcile) this.#reconcile.repairing = false;
    this.#setMode("primary", "outbox drained");
    return true;
  }

  #primaryReady(): boolean {
    return !this.#state.forced && this.#primary.healthyFor(this.#options.holdDownMs);
  }
}
