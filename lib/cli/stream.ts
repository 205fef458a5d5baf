/** `btcfeed stream`: exchanges → failover core → Redis, with status, control and HTTP. */

import { Command } from "@commander-js/extra-typings";
import type { Config } from "../config.ts";
import { ENV } from "../config.ts";
import { addSharedOptions, configFrom } from "./options.ts";
import { log } from "../log.ts";
import { FailoverCore, type RedisTarget } from "../failover/core.ts";
import { Outbox } from "../failover/outbox.ts";
import { checkCredentials, closeTarget, openTarget } from "../failover/targets.ts";
import { StatusPublisher } from "../failover/publisher.ts";
import { readControl } from "../failover/status.ts";
import { takeStreamLock } from "../failover/stream_lock.ts";
import { Consolidator } from "../consolidator.ts";
import { adapterFor } from "../exchanges/registry.ts";
import { Feed } from "../feed/feed.ts";
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
    .option("--exchanges <list>", `markets in priority order (env ${ENV.exchanges})`)
    .option(
      "--exchange-url <e=url...>",
      `override an exchange's WebSocket URL (env ${ENV.exchangeUrl})`,
    )
    .option("--rest-url <e=url...>", `override an exchange's REST base (env ${ENV.restUrl})`)
    .option("--http <host:port|off>", `/health and /metrics listener (env ${ENV.http})`)
    .option("--legacy-keys", `also write the original service's keys (env ${ENV.legacyKeys})`)
    .option("--max-trades <n>", `approximate length of each market's stream (env ${ENV.maxTrades})`)
    .option("--outbox-max <n>", `outbox limit in trades (env ${ENV.outboxMax})`)
    .option("--deadline-ms <ms>", `primary write deadline (env ${ENV.deadlineMs}; default 500)`)
    .option("--hold-down-ms <ms>", `primary healthy this long before use (env ${ENV.holdDownMs})`)
    .option("--record <file>", `append raw exchange messages as NDJSON (env ${ENV.record})`)
    .option("--replay <file>", `use a recorded NDJSON file as the source (env ${ENV.replay})`)
    .action(async (flags) => {
      await runStream(configFrom(flags));
    });
}

/** Runs until SIGINT/SIGTERM; then leaves every unacknowledged trade in the outbox. */
export async function runStream(config: Config): Promise<void> {
  Deno.mkdirSync(config.dataDir, { recursive: true });
  const unlock = takeStreamLock(config.dataDir);
  const outbox = Outbox.open(config.dataDir, { maxTrades: config.outboxMax });
  const primary = openTarget(config.primaryUrl, "primary", config);
  const failover = config.failoverUrl ? openTarget(config.failoverUrl, "failover", config) : null;
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
    const markets = config.markets.map((m) => m.market);
    const consolidator = new Consolidator(markets);
    let consolidated = consolidator.choose(Date.now());
    const core = new FailoverCore({
      primary,
      failover,
      outbox,
      isConsolidated: (m) => m === consolidated,
      holder: `stream:${Deno.pid}:${crypto.randomUUID().slice(0, 8)}`,
      forced: readControl(config.dataDir)?.forced ?? false,
      onLatency: (target, ms) => metrics.observeLatency(target, ms),
    }, { deadlineMs: config.deadlineMs, holdDownMs: config.holdDownMs });

    const initialLast = await lastKnownTrades(markets, outbox, primaryUp ? primary : null, config);
    const feed = new Feed({
      markets: config.markets.map((m) => {
        const adapter = adapterFor(m.exchange)!;
        return {
          market: { exchange: m.exchange, base: m.base, quote: m.quote },
          adapter,
          wsUrl: config.exchangeUrls[m.exchange] ?? adapter.defaultWsUrl,
          restUrl: config.restUrls[m.exchange] ?? adapter.rest?.baseUrl,
        };
      }),
      initialLast,
      onTrades: (trades: Trade[]) => {
        const newest = trades[trades.length - 1];
        consolidator.observe(newest.market, newest.price, newest.receivedAt);
        publisher.observe(trades);
        core.submit(trades);
      },
    });
    const publisher = new StatusPublisher(config.dataDir, markets, {
      core,
      feed: () => feed.snapshot(),
      consolidated: () => consolidated,
      isOutlier: (m) => consolidator.isOutlier(m),
    });

    const metrics = new StreamMetrics(() => publisher.snapshot(), { version: VERSION });
    const http = config.http
      ? startHttpServer(config.http, {
        health: () =>
          report(inputFromStatus(publisher.snapshot(), Date.now(), {
            version: VERSION,
            dataDir: config.dataDir,
            deadLetters: outbox.deadLetterCount(),
          })).document,
        metrics: () => metrics.metrics(),
        metricsContentType: metrics.contentType,
      })
      : null;

    core.start();
    feed.start();
    log.info("stream started", {
      markets,
      primary: primary.url,
      failover: failover?.url ?? "none",
      dataDir: config.dataDir,
      mode: core.mode,
      http: http ? `http://${http.hostname}:${http.port}` : "off",
    });

    const stop = Promise.withResolvers<string>();
    const onSignal = (name: string) => () => stop.resolve(name);
    const signals = [["SIGINT", onSignal("SIGINT")], ["SIGTERM", onSignal("SIGTERM")]] as const;
    for (const [sig, fn] of signals) Deno.addSignalListener(sig, fn);
    const tick = setInterval(() => {
      const snapshot = feed.snapshot();
      for (const [m, s] of Object.entries(snapshot)) consolidator.setLive(m, s.state === "live");
      consolidated = consolidator.choose(Date.now());
      core.setForced(readControl(config.dataDir)?.forced ?? false);
      publisher.publish();
    }, 500);
    publisher.publish();

    const reason = await stop.promise;
    log.info("stream stopping", { signal: reason });
    clearInterval(tick);
    for (const [sig, fn] of signals) Deno.removeSignalListener(sig, fn);
    await http?.close();
    await feed.close();
    await core.close();
    publisher.publish();
    log.info("stream stopped", { outboxDepth: outbox.depth() });
  } finally {
    closeTarget(primary);
    closeTarget(failover);
    outbox.close();
    unlock();
  }
}

/** The newest trade each market already has, from the outbox or the primary, to seed the feed. */
async function lastKnownTrades(
  markets: string[],
  outbox: Outbox,
  primary: RedisTarget | null,
  config: Config,
): Promise<Record<string, { tradeId: string; ts: number; id: string } | null>> {
  const out: Record<string, { tradeId: string; ts: number; id: string } | null> = {};
  for (const market of markets) {
    let best = outbox.lastTrade(market);
    if (primary) {
      try {
        const h = await withDeadline(
          primary.redis.hgetall(marketKeys(config.prefix, market).last),
          config.deadlineMs,
          "primary read",
        );
        if (h.id && (!best || compareEntryIds(h.id, best.id) > 0)) {
          best = { tradeId: h.trade_id, ts: Number(h.ts), id: h.id } as Trade;
        }
      } catch { /* the outbox view is enough to avoid duplicates; backfill covers the rest */ }
    }
    out[market] = best ? { tradeId: best.tradeId, ts: best.ts, id: best.id } : null;
  }
  return out;
}
