/**
 * The composition root of `btcfeed stream`: the one place that builds its parts, in dependency
 * order, so every part is complete before anything that uses it is built:
 *
 *   stores (lock, journal, gap store) → Redis targets → core (latency, gap recorder, failover
 *   core) → sinks (consolidator, market tracker) → source (exchanges or a replay) → reporting
 *   (status publisher, metrics, HTTP).
 *
 * A trade's path is then: source `onTrades` → {@link deliver} → consolidator, tracker and
 * `FailoverCore.submit` (journal group commit, then the primary or the pending set). Nothing here decides exit codes: it returns a {@link StreamOutcome}
 * and lib/cli/stream.ts maps it.
 */

import type { Config } from "../config.ts";
import { log } from "../log.ts";
import { VERSION } from "../version.ts";
import { buildCore, type Core } from "./build_core.ts";
import { MarketTracker } from "../runtime/market_tracker.ts";
import { type CarriedOver, droppedBefore, StatusPublisher } from "../runtime/publisher.ts";
import { readControl } from "../runtime/status.ts";
import { recordStart } from "../runtime/start_history.ts";
import { corruptStoreFiles } from "../store/salvage.ts";
import { takeStreamLock } from "../runtime/stream_lock.ts";
import { StreamMetrics } from "../health/metrics.ts";
import { type HttpServerHandle, startHttpServer } from "../health/server.ts";
import { report } from "../health/report.ts";
import { inputFromStatus } from "../health/from_status.ts";
import {
  checkTargets,
  type Group,
  openGroup,
  openStoresSettingAside,
  openTargets,
  type Stores,
  type Targets,
} from "./factories.ts";
import { openSource, planSource, type SourcePlan, type StreamSource } from "./stream_source.ts";
import { lastKnownTrades } from "./last_known.ts";
import { deliver, untilEnd } from "./stream_flow.ts";
import { pruneJournal } from "./prune_journal.ts";
import { deliverReplay } from "./deliver_replay.ts";
import { startStatusLine } from "../runtime/status_line.ts";

/** How a stream ended. */
export type StreamOutcome =
  /** Stopped by a signal (its name); everything unacknowledged is in the outbox. */
  | { kind: "stopped"; signal: string }
  /** A `--replay` ended: `delivered` when all of it is on the primary. */
  | { kind: "replayed"; delivered: boolean }
  /** Reading the `--replay` file failed midway. */
  | { kind: "replay_failed"; file: string }
  /** A Redis refused the credentials or certificate: a configuration error naming `flag`. */
  | { kind: "refused"; flag: string; message: string };

/** How a stream runs, beyond its {@link Config}. */
export interface StreamRunOptions {
  /**
   * After a `--replay` is consumed: wait until all of it is on the primary (true), or stop at
   * once, leaving what the primary lacks in the outbox (false).
   * @default true
   */
  drainReplay?: boolean;
}

/** Trades a replay may have in memory ahead of the writer before it pauses reading. */
const REPLAY_MAX_BACKLOG = 50_000;
/** Trades the core may have in memory before backfill pages wait (memory stays flat). */
const BACKFILL_MAX_BACKLOG = 5_000;
/** How often the consolidated market, the control file and the status are refreshed. */
const TICK_MS = 500;
/** Most time a tick spends pruning the journal's retained tail. */
const PRUNE_BUDGET_MS = 20;

/**
 * Runs the stream until `stop` aborts (its reason names the signal), or a replay ends.
 * @throws ConfigError for a bad `--record`/`--replay`; Error when another stream holds the lock
 */
export async function runStreamApp(
  config: Config,
  stop: AbortSignal,
  options: StreamRunOptions = {},
): Promise<StreamOutcome> {
  Deno.mkdirSync(config.dataDir, { recursive: true });
  const unlock = takeStreamLock(config.dataDir);
  try {
    const carried = {
      droppedBefore: droppedBefore(config.dataDir),
      starts: recordStart(config.dataDir).map((s) => s.at),
    };
    const { stores } = openStoresSettingAside(config);
    const group = openGroup(config, stores.journal);
    try {
      const targets = openTargets(config, true, group);
      try {
        const check = await checkTargets(targets, 1_000);
        if (!check.ok) return { kind: "refused", flag: check.flag, message: check.message };
        if (!check.primaryUp) {
          log.warn("primary redis unreachable: trades go to the outbox until it answers", {
            url: targets.primary.url,
            failover: targets.failover?.url ?? "none",
            outbox: config.dataDir,
          });
        }
        const plan = await planSource(config);
        const built = await buildStream(config, stores, targets, group, plan, carried);
        let cleanStop: string | null = null;
        try {
          const outcome = await runBuilt(built, stop, options.drainReplay ?? true);
          cleanStop = stopReason(outcome);
          return outcome;
        } finally {
          await closeBuilt(built, cleanStop);
        }
      } finally {
        targets.close();
      }
    } finally {
      group?.close();
      stores.close();
    }
  } finally {
    unlock();
  }
}

/** Status file, metrics and HTTP: they read everything built before them. */
interface Reporting {
  publisher: StatusPublisher;
  http: HttpServerHandle | null;
}

function buildReporting(
  config: Config,
  stores: Stores,
  c: Core,
  tracker: MarketTracker,
  source: StreamSource,
  carried: CarriedOver,
): Reporting {
  const publisher = new StatusPublisher(config.dataDir, {
    core: () => c.core.status(),
    tracker,
    feed: () => source.snapshot(),
    consolidated: () => c.choice.market,
    isOutlier: (m) => c.consolidator.isOutlier(m),
    outlierEvents: () => c.consolidator.outlierEvents,
    gapRecords: () => c.gaps.counts(),
    rest: source.rest,
    storeSetAside: () => corruptStoreFiles(config.dataDir),
  }, carried);
  const metrics = new StreamMetrics(() => publisher.snapshot(), {
    version: VERSION,
    latency: c.latency,
  });
  const http = config.http
    ? startHttpServer(config.http, {
      health: () =>
        report(inputFromStatus(publisher.snapshot(), Date.now(), {
          version: VERSION,
          dataDir: config.dataDir,
          deadLetters: stores.journal.deadLetterCount(),
        })).document,
      metrics: () => metrics.metrics(),
      metricsContentType: metrics.contentType,
    })
    : null;
  return { publisher, http };
}

/** The built stream: every part, in the order it was built. */
interface BuiltStream {
  config: Config;
  stores: Stores;
  targets: Targets;
  c: Core;
  source: StreamSource;
  reporting: Reporting;
}

async function buildStream(
  config: Config,
  stores: Stores,
  targets: Targets,
  group: Group | null,
  plan: SourcePlan,
  carried: CarriedOver,
): Promise<BuiltStream> {
  const markets = plan.markets.map((m) => m.market);
  const c = buildCore(config, stores, targets, group?.seat ?? null, markets);
  const tracker = new MarketTracker(markets);
  const known = lastKnownTrades(markets, stores.journal);
  const source = await openSource(plan, config, {
    initialLast: known,
    onTrades: (trades) => deliver(trades, c.consolidator, tracker, c.core),
    onGap: (gap) => c.gaps.record(gap),
    busy: () => c.core.backlog() > REPLAY_MAX_BACKLOG,
    recovery: stores.recovery,
    backfillBusy: () => c.core.backlog() > BACKFILL_MAX_BACKLOG,
  });
  const reporting = buildReporting(config, stores, c, tracker, source, carried);
  return { config, stores, targets, c, source, reporting };
}

/** Every tick: market liveness into the price choice, the control file into the core, status out. */
function refresh(b: BuiltStream): void {
  const live: string[] = [];
  for (const [m, s] of Object.entries(b.source.snapshot())) {
    b.c.consolidator.setLive(m, s.state === "live");
    if (s.state === "live") live.push(m);
  }
  b.c.seat?.setLive(live);
  b.c.choice.market = b.c.consolidator.choose(b.source.now());
  b.c.core.setForced(readControl(b.config.dataDir)?.forced ?? false);
  pruneJournal(b.stores.journal, PRUNE_BUDGET_MS);
  b.reporting.publisher.publish();
}

async function runBuilt(
  b: BuiltStream,
  stop: AbortSignal,
  drainReplay: boolean,
): Promise<StreamOutcome> {
  const { config, stores, c, source } = b;
  c.core.start();
  c.gaps.start();
  const replayed = source.start();
  const http = b.reporting.http;
  log.info("stream started", {
    markets: source.markets.map((m) => m.market),
    primary: b.targets.primary.url,
    failover: b.targets.failover?.url ?? "none",
    dataDir: config.dataDir,
    mode: c.core.mode,
    ...(config.group ? { group: config.group, feederId: config.feederId } : {}),
    http: http ? `http://${http.hostname}:${http.port}` : "off",
    ...(config.replay ? { replay: config.replay } : {}),
  });
  const tick = setInterval(() => refresh(b), TICK_MS);
  b.reporting.publisher.publish();
  const stopStatusLine = startStatusLine(() => b.reporting.publisher.snapshot(), {
    intervalMs: config.statusIntervalMs,
    quiet: config.quiet,
  });
  try {
    const ended = await untilEnd(replayed, stop, config.replay);
    if (ended === "replayed") {
      // The recording is consumed: deliver everything, then exit like a finished `sync`.
      await source.close();
      await c.core.close();
      const primary = b.targets.primary;
      const delivered = drainReplay &&
        await deliverReplay(stores.journal, primary, c.gaps, c.choice.market, {
          wanted: config.primaryReplicas,
          timeoutMs: config.deadlineMs / 2,
        }, stop);
      log.info(
        delivered
          ? "replay written to the primary"
          : "stream stopping before the replay was written",
        { outboxDepth: stores.journal.depth(), gapRecordsPending: c.gaps.pending() },
      );
      return { kind: "replayed", delivered };
    }
    const signal = ended === "failed" ? "replay failed" : String(stop.reason);
    log.info("stream stopping", { signal });
    return ended === "failed"
      ? { kind: "replay_failed", file: config.replay ?? "" }
      : { kind: "stopped", signal };
  } finally {
    clearInterval(tick);
    stopStatusLine();
  }
}

/** Closes every part; after a clean stop (`cleanStop` says why) the last status says stopped. */
async function closeBuilt(b: BuiltStream, cleanStop: string | null): Promise<void> {
  await b.reporting.http?.close();
  await b.source.close().catch(() => {});
  await b.c.core.close();
  await b.c.gaps.close();
  if (cleanStop) b.reporting.publisher.markStopped(cleanStop);
  b.reporting.publisher.publish();
  log.info("stream stopped", {
    outboxDepth: b.stores.journal.depth(),
    gapRecordsPending: b.c.gaps.pending(),
  });
}

/** Why the stream ended, as the stopped status says it. */
function stopReason(o: StreamOutcome): string {
  return o.kind === "stopped" ? `stopped by ${o.signal}` : o.kind.replace("_", " ");
}
