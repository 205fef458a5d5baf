/**
 * The status `stream` publishes to the data directory about once a second, and the control
 * record `btcfeed failover` writes for it. This is how the subcommands talk to each other.
 *
 * Both files are replaced atomically (write a temporary file, then rename), so a reader sees the
 * old or the new record, never a torn one.
 */

import { join } from "node:path";
import type {
  MarketState,
  Mode,
  RecoveringGap,
  RedisFailureReason,
  RestStatus,
} from "../domain.ts";

export const STATUS_FILE = "status.json";
export const CONTROL_FILE = "control.json";

export interface Transition {
  /** ms since the epoch */
  at: number;
  from: Mode;
  to: Mode;
  reason: string;
}

/** Per-market view, as `health` and `monitor` show it. */
export interface MarketStatus {
  state: MarketState;
  /** Last trade applied, or null before the first. */
  last: {
    price: string;
    size: string;
    side: string;
    tradeId: string;
    ts: number;
    receivedAt: number;
  } | null;
  trades: number;
  /** Trades per second over the last status period. */
  tradeRate: number;
  reconnects: number;
  /** Planned, overlapping connection replacements. */
  handovers: number;
  /** Trades dropped because they were already delivered (overlaps, snapshots). */
  duplicates: number;
  /** Entry IDs moved past their trade time to stay increasing. */
  clockAdjusted: number;
  gaps: number;
  gapsBackfilled: number;
  /** The gap being recovered (pending in the data directory), or null; absent from older streams. */
  recovering?: RecoveringGap | null;
  /** Quarantined messages by reason. */
  quarantined: Record<string, number>;
  /** Left out of the consolidated price because it strays from the others' median. */
  outlier: boolean;
  /** Recent [ms, price] points, one a few seconds apart, oldest first (for sparklines). */
  history: [number, string][];
  /** Human-readable last problem, e.g. the 451 message. */
  lastError: string | null;
}

export interface RedisTargetStatus {
  /** URL with any password redacted; null when not configured. */
  url: string | null;
  healthy: boolean;
  /** Last measured round trip in ms, null when unknown. */
  latencyMs: number | null;
  lastError: string | null;
  /**
   * Machine-readable reason of `lastError` (`readonly`, `oom`, `misconf`, `noperm`, `loading`,
   * `unreachable`, ...); null when healthy. Only the primary reports it (writes decide).
   */
  reason?: RedisFailureReason | null;
}

/** A feeder of the group as this one last saw it (its heartbeat record). */
export interface GroupMemberStatus {
  id: string;
  role: "writer" | "standby";
  epoch: number | null;
  /** Its clock when it published, ms since the epoch. */
  at: number;
  /** Age of that heartbeat on this feeder's clock when the status was written. */
  ageMs: number;
  /** Markets whose exchange connection is live there. */
  live: string[];
  /** Rows pending in its journal. */
  pending: number;
}

/** This feeder's place in its group (`--group`); absent outside a group. */
export interface GroupStatus {
  name: string;
  feederId: string;
  role: "writer" | "standby";
  /** The epoch this feeder writes with while it is the writer, else null. */
  epoch: number | null;
  /** Who holds the writer lease, as last read from the primary; null: nobody (or unknown). */
  writer: { id: string; epoch: number } | null;
  leaseMs: number;
  /** Times this run took the lease. */
  acquisitions: number;
  /** Live feeders of the group (this one included), by id. */
  members: GroupMemberStatus[];
  /** When the group view was last read (ms since the epoch); null: never. */
  viewAt: number | null;
  /** The last lease or group-view failure; null after the next success. */
  lastError: string | null;
}

export interface StreamStatus {
  version: 1;
  pid: number;
  startedAt: number;
  /** Refreshed about once a second; an old heartbeat means the stream is not running. */
  heartbeatAt: number;
  mode: Mode;
  forced: boolean;
  /** Most recent transitions, oldest first (at most 20). */
  transitions: Transition[];
  counters: {
    tradesReceived: number;
    writtenPrimary: number;
    writtenFailover: number;
    outboxAppended: number;
    replayed: number;
    duplicates: number;
    outOfOrder: number;
    /** Trades dropped because the outbox was full or the disk failed (each also logged). */
    dropped: number;
    failovers: number;
    /** Trades that skipped the failover Redis mirror because its backlog was full. */
    mirrorDropped: number;
    /** Times a market was newly left out of the consolidated price as an outlier. */
    outlierEvents: number;
    /** Writes the primary took but fewer than `--primary-replicas` confirmed (kept pending). */
    replicaShortfalls: number;
    /** Markets found behind the journal on the primary (it lost acknowledged trades). */
    primaryResets: number;
    /** Journaled trades made pending again to repair such a primary. */
    reconciledTrades: number;
    /** Writes refused by a newer writer's fence (group mode): this feeder stepped back. */
    fenced: number;
  };
  /** True from a detected primary reset until the journal's re-applied trades are written. */
  repairing?: boolean;
  /** Gap records: acknowledged by the primary, refused for good, not storable locally. */
  gapRecords: { written: number; failed: number; unstored: number };
  outbox: {
    depth: number;
    bytes: number;
    maxTrades: number;
    full: boolean;
    lastError: string | null;
    /** Rows the primary rejected as out-of-order, kept in the dead-letter table. */
    deadLetters: number;
  };
  /** Replay progress while syncing. */
  sync: { total: number; done: number } | null;
  primary: RedisTargetStatus;
  failover: RedisTargetStatus;
  markets: Record<string, MarketStatus>;
  /** REST backfill budget per exchange (absent for a replay, or from an older stream). */
  rest?: Record<string, RestStatus>;
  /** Market currently feeding the consolidated price. */
  consolidatedMarket: string | null;
  /** Set by a clean stop, in the last status it writes; null while running. */
  stopped?: { at: number; reason: string } | null;
  /** Trades dropped by every stream on this data directory (`counters.dropped` is this run's). */
  droppedTotal?: number;
  /** Start times (ms) of `stream` on this data directory in the last hour, this one last. */
  starts?: number[];
  /** Store files moved aside as corrupt and not yet salvaged by `btcfeed sync --recover`. */
  storeSetAside?: string[];
  /** The feeder group (`--group`); absent or null outside a group. */
  group?: GroupStatus | null;
}

/** The part of the status the failover core owns. */
export type CoreStatus = Pick<
  StreamStatus,
  | "mode"
  | "forced"
  | "transitions"
  | "counters"
  | "outbox"
  | "sync"
  | "primary"
  | "failover"
  | "repairing"
  | "group"
>;

/** The failover core's counters. */
export type CoreCounters = StreamStatus["counters"];

/** Every core counter at zero. */
export function zeroCounters(): CoreCounters {
  return {
    tradesReceived: 0,
    writtenPrimary: 0,
    writtenFailover: 0,
    outboxAppended: 0,
    replayed: 0,
    duplicates: 0,
    outOfOrder: 0,
    dropped: 0,
    failovers: 0,
    mirrorDropped: 0,
    outlierEvents: 0,
    replicaShortfalls: 0,
    primaryResets: 0,
    reconciledTrades: 0,
    fenced: 0,
  };
}

/** A forced-failover request; absent file means automatic mode. */
export interface ControlRecord {
  forced: boolean;
  /** ms since the epoch */
  at: number;
  reason: string;
}

/** Writes `value` as JSON to `dir/name` atomically. */
export function writeJsonAtomic(dir: string, name: string, value: unknown): void {
  const path = join(dir, name);
  const tmp = `${path}.${Deno.pid}.tmp`;
  Deno.writeTextFileSync(tmp, JSON.stringify(value));
  Deno.renameSync(tmp, path);
}

/** Reads JSON from `dir/name`; null when the file does not exist. Other errors propagate. */
export function readJson<T>(dir: string, name: string): T | null {
  try {
    return JSON.parse(Deno.readTextFileSync(join(dir, name))) as T;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null;
    throw e;
  }
}

export function readStatus(dataDir: string): StreamStatus | null {
  return readJson<StreamStatus>(dataDir, STATUS_FILE);
}

export function writeStatus(dataDir: string, status: StreamStatus): void {
  writeJsonAtomic(dataDir, STATUS_FILE, status);
}

export function readControl(dataDir: string): ControlRecord | null {
  return readJson<ControlRecord>(dataDir, CONTROL_FILE);
}

export function writeControl(dataDir: string, control: ControlRecord): void {
  writeJsonAtomic(dataDir, CONTROL_FILE, control);
}

/** Removes the control record (back to automatic mode); no record is fine. */
export function clearControl(dataDir: string): void {
  try {
    Deno.removeSync(join(dataDir, CONTROL_FILE));
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
}
