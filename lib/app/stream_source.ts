/**
 * Where `stream` gets its trades: the live exchanges (optionally recording
 * every raw message with `--record`), or a recording with `--replay`. Both deliver through the
 * same market pipeline, so the rest of `stream` does not know which one runs.
 *
 * Replay markets come from the file, not from `--exchanges`: every market the recording holds is
 * replayed (one without an adapter is skipped with a warning). `--exchanges` only orders them:
 * markets it lists come first, in its order, then the others in order of first appearance.
 *
 * Two steps, so the composition root can build the sinks before the source: {@link planSource}
 * settles the markets (reading a recording's market list), {@link openSource} builds the source
 * that delivers to those sinks. Nothing is delivered before `start()`.
 */

import { type Config, ConfigError, type MarketConfig } from "../config.ts";
import { adapterFor } from "../exchanges/registry.ts";
import type { ExchangeAdapter } from "../exchanges/adapter.ts";
import type { GapRecord, RestStatus } from "../domain.ts";
import { Feed, type LastTrade, type MarketSnapshot, type RecoveryStore } from "../feed/feed.ts";
import { MessageRecorder, recordingAdapter } from "../feed/recorder.ts";
import { ReplaySource, type ReplaySummary, scanReplayMarkets } from "../feed/replay_source.ts";
import { log } from "../log.ts";
import { parseMarket, type Trade } from "../trade.ts";
import { errorText } from "../redact.ts";

/** What `stream` runs its markets with. */
export interface StreamSource {
  /** The markets, in priority order. */
  markets: MarketConfig[];
  /** Per-market state for the status file. */
  snapshot(): Record<string, MarketSnapshot>;
  /** REST budget per exchange, for sources that backfill over REST. */
  rest?(): Record<string, RestStatus>;
  /** The source's notion of now: the wall clock live, the recorded time in a replay. */
  now(): number;
  /** Starts delivering. For a replay, resolves with its summary once the file is consumed. */
  start(): Promise<ReplaySummary> | null;
  /** Stops delivering; resolves when every socket, timer and file is closed. */
  close(): Promise<void>;
}

/** What a source delivers to. */
export interface SourceSinks {
  /** What storage already holds per market, so a restart neither duplicates nor misses. */
  initialLast: Record<string, LastTrade | null>;
  onTrades: (trades: Trade[]) => void;
  onGap: (gap: GapRecord) => void;
  /** True while the writer is behind (a replay then pauses reading). */
  busy: () => boolean;
  /** True while the core is too far behind for backfilled pages (a live source waits). */
  backfillBusy?: () => boolean;
  /** Where live sources keep held trades and pending gaps (a replay keeps none). */
  recovery?: RecoveryStore;
}

/** The markets a source will run, settled before anything is built. */
export type SourcePlan =
  | { kind: "live"; markets: MarketConfig[] }
  | {
    kind: "replay";
    path: string;
    /** Replay pace (1 = recorded pace); undefined replays as fast as possible. */
    speed?: number;
    markets: MarketConfig[];
    adapters: ExchangeAdapter[];
  };

/**
 * Settles which source `config` asks for and its markets, in priority order.
 * @throws ConfigError when `--record` and `--replay` are combined, or the replay file cannot be
 * read or holds no market btcfeed knows
 */
export async function planSource(config: Config): Promise<SourcePlan> {
  if (config.record && config.replay) {
    throw new ConfigError("--record cannot be combined with --replay (the replay is the record)");
  }
  return config.replay
    ? await planReplay(config, config.replay)
    : { kind: "live", markets: config.markets };
}

/**
 * Builds the source of `plan`, delivering to `sinks`.
 * @throws ConfigError when the `--record` file cannot be opened
 */
export async function openSource(
  plan: SourcePlan,
  config: Config,
  sinks: SourceSinks,
): Promise<StreamSource> {
  return plan.kind === "replay" ? openReplay(plan, sinks) : await openLive(config, sinks);
}

async function openLive(config: Config, sinks: SourceSinks): Promise<StreamSource> {
  let recorder: MessageRecorder | null = null;
  if (config.record) {
    try {
      recorder = await MessageRecorder.open(config.record);
    } catch (e) {
      throw new ConfigError(
        `--record: cannot open "${config.record}": ${errorText(e)}`,
      );
    }
    log.info("recording raw exchange messages", { file: config.record });
  }
  const markets = config.markets;
  const feed = new Feed({
    markets: markets.map((m) => {
      const adapter = adapterFor(m.exchange);
      if (!adapter) throw new ConfigError(`--exchanges: unknown exchange "${m.exchange}"`);
      return {
        market: { exchange: m.exchange, base: m.base, quote: m.quote },
        adapter: recorder ? recordingAdapter(adapter, recorder) : adapter,
        wsUrl: config.exchangeUrls[m.exchange] ?? adapter.defaultWsUrl,
        restUrl: config.restUrls[m.exchange] ?? adapter.rest?.baseUrl,
      };
    }),
    initialLast: sinks.initialLast,
    onTrades: sinks.onTrades,
    onGap: sinks.onGap,
    recovery: sinks.recovery,
    busy: sinks.backfillBusy,
  });
  return {
    markets,
    snapshot: () => feed.snapshot(),
    rest: () => feed.restStatus(),
    now: () => Date.now(),
    start: () => (feed.start(), null),
    async close() {
      await feed.close();
      await recorder?.close();
      if (recorder) {
        log.info("recording closed", {
          file: recorder.path,
          messages: recorder.written,
          notRecorded: recorder.dropped,
        });
      }
    },
  };
}

async function planReplay(config: Config, path: string): Promise<SourcePlan> {
  const names = await scanReplayMarkets(path).catch((e) => {
    throw new ConfigError(`--replay: cannot read "${path}": ${errorText(e)}`);
  });
  const known: { config: MarketConfig; adapter: ExchangeAdapter }[] = [];
  for (const name of names) {
    const m = parseMarket(name);
    const adapter = m ? adapterFor(m.exchange) : undefined;
    if (!m || !adapter) {
      log.warn("replay: market without an adapter is skipped", { market: name });
      continue;
    }
    known.push({
      config: { exchange: m.exchange, base: m.base, quote: m.quote, market: name },
      adapter,
    });
  }
  if (!known.length) throw new ConfigError(`--replay: "${path}" holds no recorded message`);
  const rank = (name: string) => {
    const i = config.markets.findIndex((m) => m.market === name);
    return i < 0 ? config.markets.length : i;
  };
  known.sort((a, b) => rank(a.config.market) - rank(b.config.market)); // stable: file order kept
  return {
    kind: "replay",
    path,
    speed: config.replaySpeed,
    markets: known.map((k) => k.config),
    adapters: known.map((k) => k.adapter),
  };
}

function openReplay(
  plan: Extract<SourcePlan, { kind: "replay" }>,
  sinks: SourceSinks,
): StreamSource {
  const { path, markets } = plan;
  const replay = new ReplaySource({
    path,
    markets: markets.map((market, i) => ({ market, adapter: plan.adapters[i] })),
    initialLast: sinks.initialLast,
    onTrades: sinks.onTrades,
    onGap: sinks.onGap,
    busy: sinks.busy,
    speed: plan.speed,
  });
  log.info("replaying a recording instead of the exchanges", {
    file: path,
    markets: markets.map((m) => m.market),
  });
  return {
    markets,
    snapshot: () => replay.snapshot(),
    now: () => replay.clock,
    start: () => replay.run(),
    close: () => replay.close(),
  };
}
