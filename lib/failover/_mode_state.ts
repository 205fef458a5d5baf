/**
 * The failover core's mode and its history (private to lib/failover): one closed union, one
 * method that changes it ({@link ModeState.set}, called by the core's pump only), which logs
 * `from -> to` with the reason and keeps the last 20 transitions for status. Also whether
 * failover is forced, and the progress of the current sync.
 */

import type { Mode } from "../domain.ts";
import type { CoreCounters, Transition } from "../runtime/status.ts";
import { log } from "../log.ts";

/** Transitions kept for status. */
const KEPT = 20;

export class ModeState {
  #mode: Mode = "primary";
  #forced: boolean;
  #transitions: Transition[] = [];
  /** Rows replayed in this sync; null when not syncing. */
  syncDone: number | null = null;

  constructor(forced: boolean) {
    this.#forced = forced;
  }

  get mode(): Mode {
    return this.#mode;
  }

  get forced(): boolean {
    return this.#forced;
  }

  get transitions(): readonly Transition[] {
    return this.#transitions;
  }

  /** Sets forced failover; true when that changed it (logged). */
  setForced(forced: boolean): boolean {
    if (forced === this.#forced) return false;
    this.#forced = forced;
    log.info(forced ? "failover forced" : "failover released", {});
    return true;
  }

  /** The one place the mode changes; counts failovers in `counters`. */
  set(to: Mode, reason: string, counters: CoreCounters): void {
    const from = this.#mode;
    if (from === to) return;
    this.#mode = to;
    if (to === "failover") counters.failovers++;
    this.syncDone = to === "syncing" ? 0 : null;
    this.#transitions.push({ at: Date.now(), from, to, reason });
    if (this.#transitions.length > KEPT) this.#transitions.shift();
    (to === "failover" ? log.warn : log.info).call(log, "mode change", { from, to, reason });
  }
}
