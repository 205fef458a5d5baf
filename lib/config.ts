/**
 * One typed, validated configuration from flags > environment > defaults.
 *
 * Every value is checked up front: a bad one throws {@link ConfigError} naming the flag or the
 * environment variable it came from, which `main.ts` prints as one line and exits 2. Each
 * default is defined once, in {@link DEFAULTS}. Passwords never appear in error messages.
 */

import { homedir, hostname } from "node:os";
import { join } from "node:path";
import { adapterFor, EXCHANGE_NAMES } from "./exchanges/registry.ts";
import { marketName } from "./trade.ts";
import { redactUrl, SENTINEL_PASSWORD_ENV } from "./redis/url.ts";
import {
  DEFAULT_FAILOVER_CORE_OPTIONS,
  DEFAULT_JOURNAL_OPTIONS,
  DEFAULT_WRITER_OPTIONS,
} from "./defaults.ts";
import {
  checkPem,
  checkReadable,
  checkRedisUrl,
  ConfigError,
  isPem,
  type ListenAddress,
  noLegacyOnCluster,
  parseBool,
  parseChoice,
  parseDuration,
  parseHttp,
  parseInteger,
  parseName,
  parsePrefix,
  type Sourced,
} from "./config_values.ts";

export { ConfigError };

export interface MarketConfig {
  exchange: string;
  base: string;
  quote: string;
  /** `binance:BTC-USDT` */
  market: string;
}

export interface Config {
  primaryUrl: string;
  failoverUrl: string | null;
  dataDir: string;
  /** In priority order. */
  markets: MarketConfig[];
  exchangeUrls: Record<string, string>;
  restUrls: Record<string, string>;
  http: ListenAddress | null;
  prefix: string;
  legacyKeys: boolean;
  logFormat: "pretty" | "json";
  logLevel: "debug" | "info" | "warn" | "error";
  /** `--tls-ca` / `BTCFEED_TLS_CA` naming a file... */
  tlsCaFile: string | null;
  /** ...or holding the PEM text itself (starts with `-----BEGIN`), as container platforms pass it. */
  tlsCaPem: string | null;
  tlsInsecure: boolean;
  /** The sentinels' own password for Sentinel URLs (environment only, never a flag). */
  sentinelPassword: string | null;
  /** Approximate MAXLEN of each market's stream. */
  maxTrades: number;
  /** Outbox limit in trades. */
  outboxMax: number;
  /** Replicas `WAIT` must confirm before a write counts as acknowledged (0: none). */
  primaryReplicas: number;
  /** Acknowledged trades kept in the journal this long. */
  journalRetainMs: number;
  /** At most this many journal rows per market (pending ones are always kept). */
  journalRetainTrades: number;
  /** `full`: fsync at every journal commit; `normal`: at checkpoints (see lib/store/journal.ts). */
  journalSync: "full" | "normal";
  /** A primary write batch that takes longer fails over. */
  deadlineMs: number;
  /** The primary must be healthy this long before writes return to it. */
  holdDownMs: number;
  /** The feeder group (`--group`); null: a single feeder, no lease (the default). */
  group: string | null;
  /** The writer lease's time to live in a group. */
  leaseMs: number;
  /** This feeder's id in its group (default `<hostname>:<pid>`). */
  feederId: string;
  record: string | null;
  replay: string | null;
  /** No status line on a terminal. */
  quiet: boolean;
  /** Time between two status lines on a terminal. */
  statusIntervalMs: number;
  /** Replay pace (1 = recorded pace); unset replays as fast as possible. Set by `demo`. */
  replaySpeed?: number;
}

/** Flag names as commander gives them (camelCase keys), all optional strings or booleans. */
export type RawFlags = Partial<Record<string, string | string[] | boolean | undefined>>;

/** Defaults of the settings; those the modules own are taken from them, so each is defined once. */
export const DEFAULTS = {
  primary: "redis://127.0.0.1:6379",
  exchanges: "binance,coinbase,kraken",
  http: "127.0.0.1:9464",
  prefix: DEFAULT_WRITER_OPTIONS.prefix,
  maxTrades: DEFAULT_WRITER_OPTIONS.maxTrades,
  outboxMax: DEFAULT_JOURNAL_OPTIONS.maxTrades,
  primaryReplicas: DEFAULT_FAILOVER_CORE_OPTIONS.replicas,
  journalRetain: "30m",
  journalRetainTrades: DEFAULT_JOURNAL_OPTIONS.retainTrades,
  journalSync: DEFAULT_JOURNAL_OPTIONS.synchronous === "FULL" ? "full" : "normal",
  deadlineMs: DEFAULT_FAILOVER_CORE_OPTIONS.deadlineMs,
  holdDownMs: DEFAULT_FAILOVER_CORE_OPTIONS.holdDownMs,
  leaseMs: 5_000,
  logLevel: "info",
  statusIntervalMs: 10_000,
} as const;

/** Flag → environment variable, for every setting. */
export const ENV = {
  primary: "BTCFEED_PRIMARY_URL",
  failover: "BTCFEED_FAILOVER_URL",
  dataDir: "BTCFEED_DATA_DIR",
  exchanges: "BTCFEED_EXCHANGES",
  exchangeUrl: "BTCFEED_EXCHANGE_URLS",
  restUrl: "BTCFEED_REST_URLS",
  http: "BTCFEED_HTTP",
  prefix: "BTCFEED_PREFIX",
  legacyKeys: "BTCFEED_LEGACY_KEYS",
  logFormat: "BTCFEED_LOG_FORMAT",
  logLevel: "BTCFEED_LOG_LEVEL",
  tlsCa: "BTCFEED_TLS_CA",
  tlsInsecure: "BTCFEED_TLS_INSECURE",
  sentinelPassword: SENTINEL_PASSWORD_ENV,
  maxTrades: "BTCFEED_MAX_TRADES",
  outboxMax: "BTCFEED_OUTBOX_MAX",
  primaryReplicas: "BTCFEED_PRIMARY_REPLICAS",
  journalRetain: "BTCFEED_JOURNAL_RETAIN",
  journalRetainTrades: "BTCFEED_JOURNAL_RETAIN_TRADES",
  journalSync: "BTCFEED_JOURNAL_SYNC",
  deadlineMs: "BTCFEED_DEADLINE_MS",
  holdDownMs: "BTCFEED_HOLD_DOWN_MS",
  group: "BTCFEED_GROUP",
  leaseMs: "BTCFEED_LEASE_MS",
  feederId: "BTCFEED_FEEDER_ID",
  record: "BTCFEED_RECORD",
  replay: "BTCFEED_REPLAY",
  quiet: "BTCFEED_QUIET",
  statusIntervalMs: "BTCFEED_STATUS_INTERVAL_MS",
} as const;

type Key = keyof typeof ENV;

/** A key's raw value and where it came from: its flag first, then its variable; null when unset. */
function picker(
  flags: RawFlags,
  env: Record<string, string | undefined>,
): (key: Key) => Sourced<string> | null {
  return (key) => {
    const flag = flags[key];
    if (typeof flag === "string") return { value: flag, source: flagName(key) };
    if (Array.isArray(flag) && flag.length) return { value: flag.join(","), source: flagName(key) };
    if (flag === true) return { value: "true", source: flagName(key) };
    const fromEnv = env[ENV[key]];
    if (fromEnv !== undefined && fromEnv !== "") return { value: fromEnv, source: ENV[key] };
    return null;
  };
}

/** Resolves and validates the whole configuration. @throws ConfigError */
export function resolveConfig(flags: RawFlags, env: Record<string, string | undefined>): Config {
  const pick = picker(flags, env);
  const str = (key: Key, fallback: string) =>
    pick(key) ?? { value: fallback, source: flagName(key) };

  const primary = str("primary", DEFAULTS.primary);
  const failover = pick("failover");
  const tlsCa = pick("tlsCa");
  const legacy = pick("legacyKeys");
  if (legacy && parseBool(legacy)) noLegacyOnCluster(legacy.source, [primary, failover]);
  return {
    primaryUrl: checkRedisUrl(primary),
    failoverUrl: failover ? checkRedisUrl(failover) : null,
    dataDir: pick("dataDir")?.value ?? defaultDataDir(env),
    markets: parseMarkets(str("exchanges", DEFAULTS.exchanges)),
    exchangeUrls: parsePairs(pick("exchangeUrl"), ["ws:", "wss:"]),
    restUrls: parsePairs(pick("restUrl"), ["http:", "https:"]),
    http: parseHttp(str("http", DEFAULTS.http)),
    prefix: parsePrefix(str("prefix", DEFAULTS.prefix)),
    legacyKeys: parseBool(pick("legacyKeys")),
    logFormat: parseChoice(pick("logFormat"), ["pretty", "json"] as const) ??
      (Deno.stderr.isTerminal() ? "pretty" : "json"),
    logLevel: parseChoice(pick("logLevel"), ["debug", "info", "warn", "error"] as const) ??
      DEFAULTS.logLevel,
    tlsCaFile: tlsCa && !isPem(tlsCa.value) ? checkReadable(tlsCa) : null,
    tlsCaPem: tlsCa && isPem(tlsCa.value) ? checkPem(tlsCa) : null,
    tlsInsecure: parseBool(pick("tlsInsecure")),
    sentinelPassword: pick("sentinelPassword")?.value ?? null,
    maxTrades: parseInteger(pick("maxTrades"), DEFAULTS.maxTrades, 1),
    outboxMax: parseInteger(pick("outboxMax"), DEFAULTS.outboxMax, 1),
    primaryReplicas: parseInteger(pick("primaryReplicas"), DEFAULTS.primaryReplicas, 0),
    journalRetainMs: parseDuration(str("journalRetain", DEFAULTS.journalRetain)),
    journalRetainTrades: parseInteger(
      pick("journalRetainTrades"),
      DEFAULTS.journalRetainTrades,
      1,
    ),
    journalSync: parseChoice(pick("journalSync"), ["full", "normal"] as const) ??
      DEFAULTS.journalSync,
    deadlineMs: parseInteger(pick("deadlineMs"), DEFAULTS.deadlineMs, 10),
    holdDownMs: parseInteger(pick("holdDownMs"), DEFAULTS.holdDownMs, 0),
    group: pick("group") ? parseName(pick("group")!, "a group name") : null,
    leaseMs: parseInteger(pick("leaseMs"), DEFAULTS.leaseMs, 1_000),
    feederId: pick("feederId")
      ? parseName(pick("feederId")!, "a feeder id")
      : `${hostname().replace(/[^A-Za-z0-9_.-]/g, "-").slice(0, 50)}:${Deno.pid}`,
    record: pick("record")?.value ?? null,
    replay: pick("replay") ? checkReadable(pick("replay")!) : null,
    quiet: parseBool(pick("quiet")),
    statusIntervalMs: parseInteger(pick("statusIntervalMs"), DEFAULTS.statusIntervalMs, 100),
  };
}

/** `--exchange-url` from the key `exchangeUrl`. */
export function flagName(key: string): string {
  return "--" + key.replace(/[A-Z]/g, (c) => "-" + c.toLowerCase());
}

function defaultDataDir(env: Record<string, string | undefined>): string {
  const state = env.XDG_STATE_HOME || join(env.HOME || homedir(), ".local", "state");
  return join(state, "btcfeed");
}

function parseMarkets(s: Sourced<string>): MarketConfig[] {
  const entries = s.value.split(",").map((e) => e.trim()).filter(Boolean);
  if (!entries.length) throw new ConfigError(`${s.source}: name at least one exchange`);
  const seen = new Set<string>();
  return entries.map((entry) => {
    const [exchange, pair, ...rest] = entry.split(":");
    const adapter = adapterFor(exchange.toLowerCase());
    if (!adapter || rest.length) {
      throw new ConfigError(
        `${s.source}: unknown exchange "${entry}" (expected one of ${EXCHANGE_NAMES.join(", ")}, ` +
          `optionally with a market such as binance:BTC-USDT)`,
      );
    }
    let { base, quote } = adapter.defaultMarket;
    if (pair !== undefined) {
      const m = /^([A-Za-z0-9]+)-([A-Za-z0-9]+)$/.exec(pair);
      if (!m) {
        throw new ConfigError(`${s.source}: market "${entry}" must look like ${exchange}:BTC-USDT`);
      }
      [base, quote] = [m[1].toUpperCase(), m[2].toUpperCase()];
    }
    const market = marketName({ exchange: adapter.name, base, quote });
    if (seen.has(market)) throw new ConfigError(`${s.source}: ${market} is listed twice`);
    seen.add(market);
    return { exchange: adapter.name, base, quote, market };
  });
}

function parsePairs(s: Sourced<string> | null, protocols: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  if (!s) return out;
  for (const pair of s.value.split(",").map((p) => p.trim()).filter(Boolean)) {
    const eq = pair.indexOf("=");
    const exchange = pair.slice(0, eq).trim().toLowerCase();
    const url = pair.slice(eq + 1).trim();
    if (eq < 1 || !adapterFor(exchange)) {
      throw new ConfigError(
        `${s.source}: "${redactUrl(pair)}" must be <exchange>=<url> with an exchange among ${
          EXCHANGE_NAMES.join(", ")
        }`,
      );
    }
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new ConfigError(`${s.source}: "${redactUrl(url)}" is not a valid URL`);
    }
    if (!protocols.includes(parsed.protocol)) {
      throw new ConfigError(
        `${s.source}: ${exchange} URL must start with ${
          protocols.map((p) => p + "//").join(" or ")
        }`,
      );
    }
    out[exchange] = url;
  }
  return out;
}
