/** Test helpers for tests/redis: trade factories, a whole-database dump, decimal references. */

import { Redis } from "ioredis";
import { entryIdFor, type Side, type Trade } from "../../lib/trade.ts";
import { type RedisServer, startRedis, type StartRedisOptions } from "../support/redis_server.ts";

/** 2023-11-14T22:13:20Z, a minute boundary. */
export const BASE_TS = 1_700_000_040_000;

/** A valid trade of `market` with trade id `n`, 7 seconds apart (several per minute). */
export function makeTrade(market: string, n: number | bigint, over: Partial<Trade> = {}): Trade {
  const tradeId = String(n);
  const ts = over.ts ?? BASE_TS + Number(n) * 7_000;
  const side: Side = Number(BigInt(n) % 2n) === 0 ? "buy" : "sell";
  const t: Trade = {
    market,
    tradeId,
    price: `${60000 + Number(BigInt(n) % 97n)}.${
      String(Number(BigInt(n) % 100n)).padStart(2, "0")
    }`,
    size: `0.${String(Number(BigInt(n) % 1000n) + 1).padStart(3, "0")}`,
    side,
    ts,
    receivedAt: ts + 5,
    id: entryIdFor(ts, tradeId),
    ...over,
  };
  if (!over.id) t.id = entryIdFor(t.ts, t.tradeId);
  return t;
}

/** `count` consecutive trades starting at trade id `from`. */
export function makeTrades(market: string, from: number, count: number): Trade[] {
  return Array.from({ length: count }, (_, i) => makeTrade(market, from + i));
}

/** A connected client (no offline queue, fail fast) for `server`. */
export async function connect(server: RedisServer): Promise<Redis> {
  const redis = new Redis(server.url, {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  redis.on("error", () => {});
  await redis.connect();
  return redis;
}

/** Runs `fn` with a fresh server and client; always stops both. */
export async function withRedis(
  fn: (redis: Redis, server: RedisServer) => Promise<void>,
  opts: StartRedisOptions = {},
): Promise<void> {
  const server = await startRedis(opts);
  let redis: Redis | undefined;
  try {
    redis = await connect(server);
    await fn(redis, server);
  } finally {
    redis?.disconnect();
    await server.stop();
  }
}

/** Every key's type and full content, sorted by key: equal dumps mean equal databases. */
export async function dump(redis: Redis): Promise<Record<string, unknown>> {
  const keys = (await redis.keys("*")).sort();
  const out: Record<string, unknown> = {};
  for (const key of keys) {
    const type = await redis.type(key);
    if (type === "stream") {
      const info = await redis.xinfo("STREAM", key) as unknown[];
      const top = info[info.indexOf("last-generated-id") + 1];
      out[key] = { type, top, entries: await redis.xrange(key, "-", "+") };
    } else if (type === "hash") out[key] = { type, value: await redis.hgetall(key) };
    else if (type === "list") out[key] = { type, value: await redis.lrange(key, 0, -1) };
    else if (type === "string") out[key] = { type, value: await redis.get(key) };
    else out[key] = { type };
  }
  return out;
}

/** Collects the messages published on `channels` while the test runs. */
export class Subscriber {
  readonly messages: { channel: string; message: string }[] = [];
  readonly #redis: Redis;
  private constructor(redis: Redis) {
    this.#redis = redis;
  }

  static async open(server: RedisServer, channels: string[]): Promise<Subscriber> {
    const redis = await connect(server);
    const sub = new Subscriber(redis);
    redis.on("message", (channel: string, message: string) => {
      sub.messages.push({ channel, message });
    });
    await redis.subscribe(...channels);
    return sub;
  }

  /** Resolves once every message published before this call has arrived. */
  async flush(): Promise<void> {
    await this.#redis.ping();
  }

  on(channel: string): string[] {
    return this.messages.filter((m) => m.channel === channel).map((m) => m.message);
  }

  close(): void {
    this.#redis.disconnect();
  }
}

function scaleOf(d: string): number {
  const dot = d.indexOf(".");
  return dot < 0 ? 0 : d.length - dot - 1;
}

function toScaled(d: string, scale: number): bigint {
  const [i, f = ""] = d.split(".");
  return BigInt(i + f.padEnd(scale, "0"));
}

/** Exact sum of decimal texts, with as many fraction digits as the most precise operand. */
export function decimalAdd(a: string, b: string): string {
  const s = Math.max(scaleOf(a), scaleOf(b));
  const digits = (toScaled(a, s) + toScaled(b, s)).toString().padStart(s + 1, "0");
  return s === 0 ? digits : `${digits.slice(0, -s)}.${digits.slice(-s)}`;
}

/** Exact comparison of decimal texts: -1, 0 or 1. */
export function decimalCompare(a: string, b: string): number {
  const s = Math.max(scaleOf(a), scaleOf(b));
  const x = toScaled(a, s);
  const y = toScaled(b, s);
  return x < y ? -1 : x > y ? 1 : 0;
}

/** The candle hash the apply script must produce for `trades` applied in order. */
export function referenceCandles(trades: readonly Trade[]): Record<string, string> {
  const byMinute = new Map<
    number,
    { o: string; h: string; l: string; c: string; v: string; n: number }
  >();
  for (const t of trades) {
    const minute = t.ts - (t.ts % 60_000);
    const c = byMinute.get(minute);
    if (!c) {
      byMinute.set(minute, { o: t.price, h: t.price, l: t.price, c: t.price, v: t.size, n: 1 });
      continue;
    }
    if (decimalCompare(t.price, c.h) > 0) c.h = t.price;
    if (decimalCompare(t.price, c.l) < 0) c.l = t.price;
    c.c = t.price;
    c.v = decimalAdd(c.v, t.size);
    c.n++;
  }
  const out: Record<string, string> = {};
  for (const [m, c] of byMinute) {
    out[String(m)] = JSON.stringify({ t: m, o: c.o, h: c.h, l: c.l, c: c.c, v: c.v, n: c.n });
  }
  return out;
}
