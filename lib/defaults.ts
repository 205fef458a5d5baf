/**
 * Every storage and failover module's `<Thing>Options` and its `DEFAULT_<THING>_OPTIONS`, in one
 * leaf that imports nothing of the project, so `config.ts` can take its defaults from here
 * without loading the core, SQLite or ioredis. Each default is defined once, here; the modules
 * re-export what they own.
 */

/** Tuning of `FailureLog`. */
export interface FailureLogOptions {
  /** Least time between two lines about the same outage. @default 60_000 */
  intervalMs: number;
}

/** The defaults of {@link FailureLogOptions}. */
export const DEFAULT_FAILURE_LOG_OPTIONS: Readonly<FailureLogOptions> = Object.freeze({
  intervalMs: 60_000,
});

/** How `TradeWriter` writes. */
export interface WriterOptions {
  /** Key prefix `P`. @default "btcfeed" */
  prefix: string;
  /** Approximate MAXLEN of each market's trade stream. @default 1_000_000 */
  maxTrades: number;
  /** Also write the original service's keys for the consolidated market. @default false */
  legacyKeys: boolean;
  /** Trades per script call (1..1000). @default 100 */
  chunkSize: number;
  /** Minutes of 1-minute candles kept per market. @default 10080 (7 days) */
  candleRetentionMinutes: number;
}

/** The defaults of {@link WriterOptions}, defined once. */
export const DEFAULT_WRITER_OPTIONS: Readonly<WriterOptions> = Object.freeze({
  prefix: "btcfeed",
  maxTrades: 1_000_000,
  legacyKeys: false,
  chunkSize: 100,
  candleRetentionMinutes: 10080,
});

/**
 * Trades per script call of a replay (backlog, reconciliation, sync): fewer, longer calls (each
 * holds the primary ~3 ms instead of ~0.5) cut the per-call cost where throughput, not latency,
 * is what counts.
 */
export const REPLAY_CHUNK_SIZE = 500;

/** How the journal (lib/store/journal.ts) is opened. */
export interface JournalOptions {
  /** Most pending trades (the outbox limit); appends beyond it are refused (newest dropped). @default 10_000_000 */
  maxTrades: number;
  /** How long a write waits for another process's write lock. @default 5_000 */
  busyTimeoutMs: number;
  /** `FULL` fsyncs the WAL on every commit; `NORMAL` only at checkpoints. @default "FULL" */
  synchronous: "FULL" | "NORMAL";
  /** Cap on database pages (`max_page_count`); beyond it writes fail as disk full. @default null */
  maxPages: number | null;
  /** Acknowledged trades are kept this long (by receive time) to repair a primary. @default 1_800_000 (30 min) */
  retainMs: number;
  /** At most this many rows per market are kept (pending rows are never pruned). @default 2_000_000 */
  retainTrades: number;
  /** Rows per market deleted by one prune transaction. @default 5_000 */
  pruneChunk: number;
}

/** Defaults of {@link JournalOptions}. */
export const DEFAULT_JOURNAL_OPTIONS: Readonly<JournalOptions> = Object.freeze({
  maxTrades: 10_000_000,
  busyTimeoutMs: 5_000,
  synchronous: "FULL",
  maxPages: null,
  retainMs: 30 * 60_000,
  retainTrades: 2_000_000,
  pruneChunk: 5_000,
});

/** How trades are group-committed to the journal before they count as received. */
export interface JournalIntakeOptions {
  /** A buffer this large is committed at once. @default 5_000 */
  commitMaxTrades: number;
}

/** Defaults of {@link JournalIntakeOptions}. */
export const DEFAULT_JOURNAL_INTAKE_OPTIONS: Readonly<JournalIntakeOptions> = Object.freeze({
  commitMaxTrades: 5_000,
});

export interface FailoverCoreOptions {
  /** A primary write batch that takes longer fails over. @default 500 */
  deadlineMs: number;
  /** The primary must answer every probe for this long before writes return to it. @default 3_000 */
  holdDownMs: number;
  /** How often each Redis is probed. @default 250 */
  probeIntervalMs: number;
  /** Most trades in one primary write. @default 5_000 */
  maxBatch: number;
  /** Failover-Redis backlog beyond which the oldest queued trades skip it (the outbox has them). @default 100_000 */
  maxFailoverBacklog: number;
  /** Least time between two log lines about one primary outage. @default 60_000 */
  failureLogIntervalMs: number;
  /** Replicas that must confirm a write (`WAIT`) before it counts as acknowledged. @default 0 */
  replicas: number;
}

export const DEFAULT_FAILOVER_CORE_OPTIONS: FailoverCoreOptions = {
  deadlineMs: 500,
  holdDownMs: 3_000,
  probeIntervalMs: 250,
  maxBatch: 5_000,
  maxFailoverBacklog: 100_000,
  failureLogIntervalMs: DEFAULT_FAILURE_LOG_OPTIONS.intervalMs,
  replicas: 0,
};

export interface ReplayerOptions {
  /** Who holds the lease, e.g. `stream:<pid>:<random>`. */
  holder: string;
  /** @default 10_000 */
  leaseTtlMs: number;
  /** Rows per replay step. @default 5_000 */
  batchSize: number;
  /**
   * Base deadline of one step's writes; the step's deadline adds the time its pipeline takes at
   * `floorBytesPerSec` (see `replayDeadlineMs`). @default 5_000
   */
  deadlineMs: number;
  /**
   * The slowest link a replay must converge on, in bytes per second. @default 125_000 (1 Mbit/s)
   */
  floorBytesPerSec: number;
  /** Stop at this outbox sequence number (what `btcfeed sync` found at its start). @default Infinity */
  untilSeq: number;
}

export const DEFAULT_REPLAYER_OPTIONS: Omit<ReplayerOptions, "holder"> = {
  leaseTtlMs: 10_000,
  batchSize: 5_000,
  deadlineMs: 5_000,
  floorBytesPerSec: 125_000,
  untilSeq: Infinity,
};

/** Timing of `GapRecorder`. */
export interface GapRecorderOptions {
  /** Deadline of each XADD. @default 500 */
  deadlineMs: number;
  /** Pause between flush attempts while records wait. @default 1_000 */
  retryMs: number;
  /** Approximate MAXLEN of each market's gap stream. @default 10_000 */
  maxLen: number;
}

/** Defaults of {@link GapRecorderOptions}. */
export const DEFAULT_GAP_RECORDER_OPTIONS: Readonly<GapRecorderOptions> = Object.freeze({
  deadlineMs: 500,
  retryMs: 1_000,
  maxLen: 10_000,
});
