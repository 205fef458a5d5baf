/**
 * The factories every subcommand builds its parts with, so `stream`, `sync` and `health` open
 * the journal, the gap store and the Redis targets the same way, from one resolved `Config`.
 */

import type { Config } from "../config.ts";
import { Journal, type JournalOptions } from "../store/journal.ts";
import { GapStore } from "../store/gap_store.ts";
import { RecoveryStore } from "../store/recovery_store.ts";
import { FeederGroup } from "../failover/feeder_group.ts";
import { isCorruptError, setAsideCorruptStore } from "../store/salvage.ts";
import { log } from "../log.ts";
import { errorText } from "../redact.ts";
import {
  checkCredentials,
  closeTarget,
  type CredentialCheck,
  openClient,
  openTarget,
  type RedisTarget,
} from "../failover/targets.ts";

/** The stores of a data directory; `close()` closes them all. */
export interface Stores {
  /** The journal; its pending part is the outbox. */
  journal: Journal;
  gaps: GapStore;
  /** Held live trades and pending gaps of running backfills. */
  recovery: RecoveryStore;
  close(): void;
}

/** Opens (creating) the journal of `config.dataDir` with the configured limit and retention. */
export function openJournal(config: Config, options: Partial<JournalOptions> = {}): Journal {
  return Journal.open(config.dataDir, {
    maxTrades: config.outboxMax,
    retainMs: config.journalRetainMs,
    retainTrades: config.journalRetainTrades,
    synchronous: config.journalSync === "normal" ? "NORMAL" : "FULL",
    ...options,
  });
}

/** Opens (creating) the data directory, its journal, gap store and recovery store. */
export function openStores(config: Config): Stores {
  Deno.mkdirSync(config.dataDir, { recursive: true });
  const journal = openJournal(config);
  let gaps: GapStore | null = null;
  let recovery: RecoveryStore;
  try {
    gaps = GapStore.open(config.dataDir);
    recovery = RecoveryStore.open(config.dataDir, {
      synchronous: config.journalSync === "normal" ? "NORMAL" : "FULL",
    });
  } catch (e) {
    gaps?.close();
    journal.close();
    throw e;
  }
  const gapStore = gaps;
  return {
    journal,
    gaps: gapStore,
    recovery,
    close() {
      recovery.close();
      gapStore.close();
      journal.close();
    },
  };
}

/**
 * Opens the stores like {@link openStores}; when the store file is corrupt (SQLITE_CORRUPT or
 * NOTADB on open or on a first read of both ends of the outbox), moves it aside and starts a new
 * one, so a damaged file never stops the stream. Returns the moved-aside name (null if none).
 * Only the stream lock's holder may call it: it renames the store file.
 */
export function openStoresSettingAside(
  config: Config,
): { stores: Stores; setAside: string | null } {
  try {
    return { stores: probed(openStores(config)), setAside: null };
  } catch (e) {
    if (!isCorruptError(e)) throw e;
    const setAside = setAsideCorruptStore(config.dataDir);
    log.error("store file corrupt: moved aside, a new one started; run btcfeed sync --recover", {
      dir: config.dataDir,
      movedTo: setAside,
      error: errorText(e),
    });
    return { stores: openStores(config), setAside };
  }
}

/** Reads what a stream reads first, so corruption shows now rather than mid-stream. */
function probed(stores: Stores): Stores {
  try {
    stores.journal.depth();
    stores.journal.peek(1);
    stores.journal.maxSeq();
    stores.gaps.depth();
    stores.recovery.heldTotal();
    stores.recovery.allPending();
    return stores;
  } catch (e) {
    stores.close();
    throw e;
  }
}

/** The primary and the optional failover Redis; `close()` disconnects both. */
export interface Targets {
  primary: RedisTarget;
  failover: RedisTarget | null;
  close(): void;
}

/** This feeder's seat in its `--group`, on its own primary connection (the lease's). */
export interface Group {
  seat: FeederGroup;
  close(): void;
}

/**
 * The feeder group seat for `config.group` (null without one), with its own lazy connection to
 * the primary, so a renewal never queues behind a large write pipeline.
 */
export function openGroup(config: Config, journal: Journal): Group | null {
  if (!config.group) return null;
  const redis = openClient(
    config.primaryUrl,
    "primary",
    config,
    config.deadlineMs,
    "btcfeed-lease",
  );
  const seat = new FeederGroup(redis, () => journal.depth(), {
    group: config.group,
    feederId: config.feederId,
    leaseMs: config.leaseMs,
    prefix: config.prefix,
    deadlineMs: config.deadlineMs,
  });
  return { seat, close: () => redis.disconnect(false) };
}

/** Lazily connecting targets for `--primary` and `--failover`; `group` fences the primary's writes. */
export function openTargets(
  config: Config,
  withFailover = true,
  group: Group | null = null,
): Targets {
  const epoch = group ? () => group.seat.epoch() : undefined;
  const primary = openTarget(config.primaryUrl, "primary", config, epoch);
  const failover = withFailover && config.failoverUrl
    ? openTarget(config.failoverUrl, "failover", config)
    : null;
  return {
    primary,
    failover,
    close() {
      closeTarget(primary);
      closeTarget(failover);
    },
  };
}

/** Outcome of {@link checkTargets}: whether the primary answered, or a refusal to report. */
export type TargetsCheck =
  | { ok: true; primaryUp: boolean }
  | Extract<CredentialCheck, { ok: false }>;

/** Probes both targets once; a wrong password or certificate on either is `{ ok: false }`. */
export async function checkTargets(targets: Targets, timeoutMs: number): Promise<TargetsCheck> {
  const primary = await checkCredentials(targets.primary, "primary", timeoutMs);
  if (!primary.ok) return primary;
  if (targets.failover) {
    const failover = await checkCredentials(targets.failover, "failover", timeoutMs);
    if (!failover.ok) return failover;
  }
  return { ok: true, primaryUp: primary.reachable };
}

/** A lease holder name unique to this process: `<role>:<pid>:<random>`. */
export function holderName(role: "stream" | "sync"): string {
  return `${role}:${Deno.pid}:${crypto.randomUUID().slice(0, 8)}`;
}
