/**
 * Where `stream` gets its trades (private to lib/cli): the live exchanges (optionally recording
 * every raw message with `--record`), or a recording with `--replay`. Both deliver through the
 * same market pipeline, so the rest of `stream` does not know which one runs.
 *
 * Replay markets come from the file, not from `--exchanges`: every market the recording holds is
 * replayed (one without an adapter is skipped with a warning). `--exchanges` only orders them:
 * markets it lists come first, in its order, then the others in order of first appearance.
 */

import { type Config, ConfigError, type MarketConfig } from "../config.ts";
import { adapterFor } from "../exchanges/registry.ts";
import type { ExchangeAdapter } from "../exchanges/adapter.ts";
import { Feed, type GapRecord, type LastTrade, type MarketSnapshot } from "../feed/feed.ts";
import { MessageRecorder, recordingAdapter } from "../feed/recorder.ts";
import { ReplaySource, type ReplaySummary, scanReplayMarkets } from "../feed/replay_source.ts";
import { log } from "../log.ts";
import { parseMarket, type Trade } from "../trade.ts";

/** What `stream` runs its markets with. */
export interface StreamSource {
  /** The markets, in priority order. */
  markets: MarketConfig[];
  /** Per-market state for the status file. */
  snapshot(): Record<string, MarketSnapshot>;
  /** The source's notion of now: the wall clock live, the recorded time in a replay. */
  now(): number;
  /** Starts delivering. For a replay, resolves with its summary once the file is consumed. */
  start(): Promise<ReplaySummary> | null;
  /** Stops delivering; resolves when every socket, timer and file is closed. */
  close(): Promise<void>;
}

/** What a source delivers to. */
export interface SourceSinks {
  initialLast: (markets: string[]) => Promise<Record<string, LastTrade | null>>;
  onTrades: (trades: Trade[]) => void;
  onGap: (gap: GapRecord) => void;
  /** True while the writer is behind (a replay then pauses reading). */
  busy: () => boolean;
}

/**
 * Opens the source `config` asks for.
 * @throws ConfigError when `--record` and `--replay` are combined, the recording file cannot be
 * opened, or the replay file holds no market btcfeed knows
 */
export async function openSource(config: Config, sinks: SourceSinks): Promise<StreamSource> {
  if (config.record && config.replay) {
    throw new ConfigError("--record cannot be combined with --replay (the replay is the record)");
  }
  return config.replay
    ? await openReplay(config, config.replay, sinks)
    : await openLive(config, sinks);
}

async function openLive(config: Config, sinks: SourceSinks): Promise<StreamSource> {
  let recorder: MessageRecorder | null = null;
  if (config.record) {
    try {
      recorder = await MessageRecorder.open(config.record);
    } catch (e) {
      throw new ConfigError(
        `--record: cannot open "${config.record}": ${e instanceof Error ? e.message : e}`,
      );
    }
    log.info("recording raw exchange messages", { file: config.record });
  }
  const markets = config.markets;
  const feed = new Feed({
    markets: markets.map((m) => {
      const adapter = adapterFor(m.exchange)!;
      return {
        market: { exchange: m.exchange, base: m.base, quote: m.quote },
        adapter: recorder ? recordingAdapter(adapter, recorder) : adapter,
        wsUrl: config.exchangeUrls[m.exchange] ?? adapter.defaultWsUrl,
        restUrl: config.restUrls[m.exchange] ?? adapter.rest?.baseUrl,
      };
    }),
    initialLast: await sinks.initialLast(markets.map((m) => m.market)),
    onTrades: sinks.onTrades,
    onGap: sinks.onGap,
  });
  return {
    markets,
    snapshot: () => feed.snapshot(),
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

async function openReplay(config: Config, path: string, sinks: SourceSinks): Promise<StreamSource> {
  const names = await scanReplayMarkets(path).catch((e) => {
    throw new ConfigError(`--replay: cannot read "${path}": ${e instanceof Error ? e.message : e}`);
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
  const markets = known.map((k) => k.config);
  const replay = new ReplaySource({
    path,
    markets: known.map((k) => ({ market: k.config, adapter: k.adapter })),
    initialLast: await sinks.initialLast(markets.map((m) => m.market)),
    onTrades: sinks.onTrades,
    onGap: sinks.onGap,
    busy: sinks.busy,
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
