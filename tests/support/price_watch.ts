/**
 * Watches the consolidated price on a real redis-server while a test runs, exactly: `MONITOR`
 * reports every command the scripts run (`[0 lua]` lines), so every write of `P:btc:last` and of
 * `last_btc_update_time` is seen with its value, not sampled. A subscriber records `P:trades`
 * and `btc_price`.
 *
 * Checks: within one server lifetime (a restart starts afresh: the server lost its data), every
 * `P:btc:last` write has a trade time at or after the one before, and so does every
 * `last_btc_update_time` write; `btc_price` messages never go back in time and none of them is
 * a trade whose latest publication on `P:trades` (just before, in the same pipeline) was
 * flagged late. A trade published live, then re-applied late after the primary lost it, is
 * fine; a late publication followed by a legacy one is not. Both connections reconnect (and re-MONITOR/re-subscribe)
 * on their own across restarts of the server.
 */

import { Redis } from "ioredis";
import { btcLastKey, LEGACY_KEYS, tradesChannel } from "../../lib/redis/keys.ts";

/** What a watch saw. */
export interface PriceVerdict {
  btcLastWrites: number;
  /** The markets `P:btc:last` was written with, in write order, each run of one market once. */
  btcLastMarkets: string[];
  /** `P:btc:last` writes older than the write before (must be 0). */
  btcLastBackwards: string[];
  legacyTimeWrites: number;
  /** `last_btc_update_time` writes older than the write before (must be 0). */
  legacyBackwards: string[];
  liveTrades: number;
  /** `P:trades` messages with `"late":true`. */
  lateTrades: number;
  legacyMessages: number;
  /** `btc_price` messages that are a late trade (must be 0). */
  lateOnLegacy: number;
  /** `btc_price` messages older than the one before (must be 0). */
  legacyMessagesBackwards: number;
}

interface TradeMessage {
  price: string;
  size: string;
  ts: number;
  late?: boolean;
}

export class PriceWatch {
  #monitor: Redis;
  #sub: Redis;
  #prefix: string;
  #lastBtcTs: number | null = null;
  #lastLegacy: number | null = null;
  /** Each trade's latest publication on `P:trades`: late or not. */
  #latest = new Map<string, boolean>();
  #previousLegacyTs = 0;
  #v: PriceVerdict = {
    btcLastWrites: 0,
    btcLastMarkets: [],
    btcLastBackwards: [],
    legacyTimeWrites: 0,
    legacyBackwards: [],
    liveTrades: 0,
    lateTrades: 0,
    legacyMessages: 0,
    lateOnLegacy: 0,
    legacyMessagesBackwards: 0,
  };

  private constructor(monitor: Redis, sub: Redis, prefix: string) {
    this.#monitor = monitor;
    this.#sub = sub;
    this.#prefix = prefix;
  }

  /** Starts watching the server at `url`. */
  static async open(url: string, prefix = "btcfeed"): Promise<PriceWatch> {
    const options = { retryStrategy: () => 50, maxRetriesPerRequest: null };
    const monitor = new Redis(url, { ...options, monitor: true } as never);
    const sub = new Redis(url, options);
    monitor.on("error", () => {});
    sub.on("error", () => {});
    const watch = new PriceWatch(monitor, sub, prefix);
    // A new server lifetime: what it held before is gone, so is the order to compare with.
    monitor.on("monitoring", () => {
      watch.#lastBtcTs = null;
      watch.#lastLegacy = null;
    });
    monitor.on("monitor", (_time: string, args: string[]) => watch.#command(args));
    await new Promise<void>((resolve) => monitor.once("monitoring", () => resolve()));
    await sub.subscribe(tradesChannel(prefix), LEGACY_KEYS.channel);
    sub.on("message", (channel: string, message: string) => watch.#message(channel, message));
    return watch;
  }

  #command(args: string[]): void {
    const name = args[0]?.toUpperCase();
    if (name === "HSET" && args[1] === btcLastKey(this.#prefix)) {
      const i = args.indexOf("ts", 2);
      const ts = Number(args[i + 1]);
      const market = args[args.indexOf("market", 2) + 1];
      if (this.#v.btcLastMarkets.at(-1) !== market) this.#v.btcLastMarkets.push(market);
      this.#v.btcLastWrites++;
      if (this.#lastBtcTs !== null && ts < this.#lastBtcTs) {
        this.#v.btcLastBackwards.push(`${this.#lastBtcTs} -> ${ts}`);
      }
      this.#lastBtcTs = ts;
    } else if (name === "SET" && args[1] === LEGACY_KEYS.updateTime) {
      const secs = Number(args[2]);
      this.#v.legacyTimeWrites++;
      if (this.#lastLegacy !== null && secs < this.#lastLegacy) {
        this.#v.legacyBackwards.push(`${this.#lastLegacy} -> ${secs}`);
      }
      this.#lastLegacy = secs;
    }
  }

  #message(channel: string, message: string): void {
    if (channel === LEGACY_KEYS.channel) {
      this.#v.legacyMessages++;
      // The legacy JSON has numbers; take the exact text of price and volume from it.
      const m = /"price":([\d.]+),"timestamp":(\d+)\.(\d{3}),"volume":([\d.]+)/.exec(message)!;
      const ts = Number(m[2] + m[3]);
      if (this.#latest.get(`${m[1]}|${m[4]}|${ts}`) !== false) this.#v.lateOnLegacy++;
      if (ts < this.#previousLegacyTs) this.#v.legacyMessagesBackwards++;
      this.#previousLegacyTs = ts;
      return;
    }
    const t = JSON.parse(message) as TradeMessage;
    this.#latest.set(`${t.price}|${t.size}|${t.ts}`, t.late === true);
    if (t.late) this.#v.lateTrades++;
    else this.#v.liveTrades++;
  }

  /** What was seen so far. */
  verdict(): PriceVerdict {
    return {
      ...this.#v,
      btcLastMarkets: [...this.#v.btcLastMarkets],
      btcLastBackwards: [...this.#v.btcLastBackwards],
    };
  }

  close(): void {
    this.#monitor.disconnect();
    this.#sub.disconnect();
  }
}

/** The parts of a verdict that must be empty or zero, for one assertion with a readable diff. */
export function priceFaults(v: PriceVerdict): Record<string, unknown> {
  return {
    btcLastBackwards: v.btcLastBackwards.slice(0, 5),
    legacyBackwards: v.legacyBackwards.slice(0, 5),
    lateOnLegacy: v.lateOnLegacy,
    legacyMessagesBackwards: v.legacyMessagesBackwards,
  };
}

/** {@link priceFaults} of a clean run. */
export const NO_PRICE_FAULTS = {
  btcLastBackwards: [],
  legacyBackwards: [],
  lateOnLegacy: 0,
  legacyMessagesBackwards: 0,
};
