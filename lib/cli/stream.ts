/** `btcfeed stream`: exchanges → failover core → Redis, with status, control and HTTP. */

import { Command } from "@commander-js/extra-typings";
import type { Config } from "../config.ts";
import { DEFAULTS, ENV } from "../config.ts";
import { addSharedOptions, configFrom } from "./options.ts";
import { log } from "../log.ts";
import { FailoverCore } from "../failover/core.ts";
import { Outbox } from "../store/outbox.ts";
import {
  checkCredentials,
  closeTarget,
  openTarget,
  type RedisTarget,
} from "../failover/targets.ts";
import { StatusPublisher } from "../runtime/publisher.ts";
import { readControl } from "../runtime/status.ts";
import { takeStreamLock } from "../runtime/stream_lock.ts";
import { Consolidator } from "../consolidator.ts";
import { GapStore } from "../store/gap_store.ts";
import { GapRecorder } from "../failover/gap_recorder.ts";
import { Replayer } from "../failover/replayer.ts";
import { describeRedisError } from "../redis/errors.ts";
import { openSource, type StreamSource } from "../app/stream_source.ts";
import type { LastTrade } from "../feed/feed.ts";
import { marketKeys } from "../redis/keys.ts";
import { compareEntryIds, type Trade } from "../trade.ts";
import { withDeadline } from "../failover/deadline.ts";
import { StreamMetrics } from "../health/metrics.ts";
import { startHttpServer } from "../health/server.ts";
import { report } from "../health/report.ts";
import { inputFromStatus } from "../health/from_status.ts";
import { VERSION } from "../version.ts";

export function streamCommand() {
  return addSharedOptions(new Command("stream"))
    .description("stream trades into Redis with automatic failover")
    .option(
      "--exchanges <list>",
      `markets in priority order (env ${ENV.exchanges}; default ${DEFAULTS.exchanges})`,
    )
    .option(
      "--exchange-url <e=url...>",
      `override an exchange's WebSocket URL (env ${ENV.exchangeUrl})`,
    )
    .option("--rest-url <e=url...>", `override an exchange's REST base (env ${ENV.restUrl})`)
    .option(
      "--http <host:port|off>",
      `/health and /metrics listener (env ${ENV.http}; default ${DEFAULTS.http})`,
    )
    .option("--legacy-keys", `also write the original service's keys (env ${ENV.legacyKeys})`)
    .option(
      "--max-trades <n>",
      `approximate length of each market's stream (env ${ENV.maxTrades}; default ${DEFAULTS.maxTrades})`,
    )
    .option(
      "--outbox-max <n>",
      `outbox limit in trades (env ${ENV.outboxMax}; default ${DEFAULTS.outboxMax})`,
    )
    .option(
      "--deadline-ms <ms>",
      `primary write deadline (env ${ENV.deadlineMs}; default ${DEFAULTS.deadlineMs})`,
    )
    .option(
      "--hold-down-ms <ms>",
      `primary healthy this long before use (env ${ENV.holdDownMs}; default ${DEFAULTS.holdDownMs})`,
    )
    .option("--record <file>", `append raw exchange messages as NDJSON (env ${ENV.record})`)
    .option("--replay <file>", `use a recorded NDJSON file as the source (env ${ENV.replay})`)
    .action(async (flags) => {
      await runStream(configFrom(flags));
    });
}

/**
 * Runs until SIGINT/SIGTERM; then leaves every unacknowledged trade (and gap record) in the
 * outbox. With `--replay`, returns by itself once the recording is consumed and every trade and
 * gap record of it is on the primary (it waits for the primary as long as it takes).
 */
export async function runStream(config: Config): Promise<void> {
  // Signals are ours from the first moment: a SIGTERM during start-up still stops gracefully.
  const stop = Promise.withResolvers<string>();
  const onSignal = (name: string) => () => stop.resolve(name);
  const signals = [["SIGINT", onSignal("SIGINT")], ["SIGTERM", onSignal("SIGTERM")]] as const;
  for (const [sig, fn] of signals) Deno.addSignalListener(sig, fn);
  try {
    await streamUntil(config, stop);
  } finally {
    for (const [sig, fn] of signals) Deno.removeSignalListener(sig, fn);
  }
}

async function streamUntil(config: Config, stop: PromiseWithResolvers<string>): Promise<void> {
  Deno.mkdirSync(config.dataDir, { recursive: true });
  const unlock = takeStreamLock(config.dataDir);
  const outbox = Outbox.open(config.dataDir, { maxTrades: config.outboxMax });
  const gapStore = GapStore.open(config.dataDir);
  const primary = openTarget(config.primaryUrl, "primary", config);
  const failover = config.failoverUrl ? openTarget(config.failoverUrl, "failover", config) : null;
  let source: StreamSource | null = null;
  try {
    const primaryUp = await checkCredentials(primary, "primary", 1_000);
    if (failover) await checkCredentials(failover, "failover", 1_000);
    if (!primaryUp) {
      log.warn("primary redis unreachable: trades go to the outbox until it answers", {
        url: primary.url,
        failover: failover?.url ?? "none",
        outbox: config.dataDir,
      });
    }
    const gaps = new GapRecorder({ store: gapStore, primary, failover, prefix: config.prefix }, {
      deadlineMs: config.deadlineMs,
    });
    let core: FailoverCore | null = null;
    let consolidator: Consolidator | null = null;
    let publisher: StatusPublisher | null = null;
    source = await openSource(config, {
      initialLast: (markets) =>
        lastKnownTrades(markets, outbox, primaryUp ? primary : null, config),
      onTrades: (trades: Trade[]) => {
        const newest = trades[trades.length - 1];
        consolidator!.observe(newest.market, newest.price, newest.receivedAt);
        publisher!.observe(trades);
        core!.submit(trades);
      },
      onGap: (gap) => gaps.record(gap),
      busy: () => backlog(core!) > REPLAY_MAX_BACKLOG,
    });
    const markets = source.markets.map((m) => m.market);
    const src = source;
    consolidator = new Consolidator(markets);
    let consolidated = consolidator.choose(src.now());
    core = new FailoverCore({
      primary,
      failover,
      outbox,
      isConsolidated: (m) => m === consolidated,
      holder: `stream:${Deno.pid}:${crypto.randomUUID().slice(0, 8)}`,
      forced: readControl(config.dataDir)?.forced ?? false,
      onLatency: (target, ms) => metrics.observeLatency(target, ms),
    }, { deadlineMs: config.deadlineMs, holdDownMs: config.holdDownMs });
    publisher = new StatusPublisher(config.dataDir, markets, {
      core,
      feed: () => src.snapshot(),
      consolidated: () => consolidated,
      isOutlier: (m) => consolidator!.isOutlier(m),
    });

    const metrics = new StreamMetrics(() => publisher!.snapshot(), { version: VERSION });
    const http = config.http
      ? startHttpServer(config.http, {
        health: () =>
          report(inputFromStatus(publisher!.snapshot(), Date.now(), {
            version: VERSION,
            dataDir: config.dataDir,
            deadLetters: outbox.deadLetterCount(),
          })).document,
        metrics: () => metrics.metrics(),
        metricsContentType: metrics.contentType,
      })
      : null;

    core.start();
    gaps.start();
    const replayed = src.start();
    log.info("stream started", {
      markets,
      primary: primary.url,
      failover: failover?.url ?? "none",
      dataDir: config.dataDir,
      mode: core.mode,
      http: http ? `http://${http.hostname}:${http.port}` : "off",
      ...(config.replay ? { replay: config.replay } : {}),
    });

    const tick = setInterval(() => {
      const snapshot = src.snapshot();
      for (const [m, s] of Object.entries(snapshot)) consolidator!.setLive(m, s.state === "live");
      consolidated = consolidator!.choose(src.now());
      core!.setForced(readControl(config.dataDir)?.forced ?? false);
      publisher!.publish();
    }, 500);
    publisher.publish();

    const finished = replayed?.then(() => "", (e) => {
      log.error("replay failed", {
        file: config.replay,
        error: e instanceof Error ? e.message : String(e),
      });
      return "replay failed";
    });
    const reason = await Promise.race([stop.promise, finished ?? stop.promise]);
    if (reason === "") {
      // The recording is consumed: deliver everything, then exit like a finished `sync`.
      await src.close();
      await core.close();
      const drained = await drainToPrimary(outbox, primary, gaps, consolidated, stop.promise);
      log.info(
        drained ? "replay written to the primary" : "stream stopping before the replay was written",
        {
          outboxDepth: outbox.depth(),
          gapRecordsPending: gaps.pending(),
        },
      );
    } else log.info("stream stopping", { signal: reason });
    clearInterval(tick);
    await http?.close();
    await src.close();
    await core.close();
    await gaps.close();
    publisher.publish();
    log.info("stream stopped", { outboxDepth: outbox.depth(), gapRecordsPending: gaps.pending() });
    if (reason === "replay failed") throw new Error(`--replay: reading ${config.replay} failed`);
  } finally {
    await source?.close().catch(() => {});
    closeTarget(primary);
    closeTarget(failover);
    gapStore.close();
    outbox.close();
    unlock();
  }
}

/** Trades a replay may have in memory ahead of the writer before it pauses reading. */
const REPLAY_MAX_BACKLOG = 50_000;

/** Trades submitted to the core but neither written nor stored yet (approximate, for pacing). */
function backlog(core: FailoverCore): number {
  const c = core.counters;
  return c.tradesReceived - c.writtenPrimary - c.duplicates - c.outOfOrder - c.outboxAppended -
    c.dropped;
}

/**
 * After a replay: replays the outbox into the primary and flushes the gap records, retrying
 * until both are empty (true) or `stopped` resolves (false, everything stays stored).
 */
async function drainToPrimary(
  outbox: Outbox,
  primary: RedisTarget,
  gaps: GapRecorder,
  consolidated: string | null,
  stopped: Promise<string>,
): Promise<boolean> {
  let stop = false;
  stopped.then(() => (stop = true));
  const replayer = new Replayer(outbox, primary.writer, (m) => m === consolidated, {
    holder: `stream:${Deno.pid}:${crypto.randomUUID().slice(0, 8)}`,
  });
  let waiting = false;
  try {
    while (!stop) {
      try {
        const step = await replayer.step();
        if (step.kind === "replayed") continue;
        if (step.kind === "drained" && (await gaps.flush())) return true;
      } catch (e) {
        if (!waiting) {
          log.warn("waiting for the primary to write the replay", {
            error: describeRedisError(e, primary.url),
            outboxDepth: outbox.depth(),
          });
        }
        waiting = true;
      }
      await Promise.race([stopped, new Promise((r) => setTimeout(r, 250))]);
    }
    return false;
  } finally {
    replayer.release();
  }
}

/** The newest trade each market already has, from the outbox or the primary, to seed the feed. */
async function lastKnownTrades(
  markets: string[],
  outbox: Outbox,
  primary: RedisTarget | null,
  config: Config,
): Promise<Record<string, LastTrade | null>> {
  const out: Record<string, LastTrade | null> = {};
  for (const market of markets) {
    const stored = outbox.lastTrade(market);
    let best: LastTrade | null = stored &&
      { tradeId: stored.tradeId, ts: stored.ts, id: stored.id };
    if (primary) {
      try {
        const h = await withDeadline(
          primary.redis.hgetall(marketKeys(config.prefix, market).last),
          config.deadlineMs,
          "primary read",
        );
        if (h.id && (!best || compareEntryIds(h.id, best.id) > 0)) {
          best = { tradeId: h.trade_id, ts: Number(h.ts), id: h.id };
        }
      } catch { /* the outbox view is enough to avoid duplicates; backfill covers the rest */ }
    }
    out[market] = best;
  }
  return out;
}
