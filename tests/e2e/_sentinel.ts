/**
 * What the Sentinel end-to-end tests share: readers of one data node, the tape positions a
 * stream lacks, and the measured wait from a fault to trades landing on the promoted master.
 */

import { Redis, type RedisOptions } from "ioredis";
import { waitFor } from "../support/cli.ts";
import type { SentinelGroup } from "../support/sentinel.ts";

/**
 * A client of the data node on `port` (its own port: past any proxy); `options` carry a
 * protected group's credentials and TLS (`group.dataClientOptions`).
 */
export function reader(port: number, options: RedisOptions = {}): Redis {
  const client = new Redis({
    host: "127.0.0.1",
    port,
    lazyConnect: true,
    maxRetriesPerRequest: 1,
    ...options,
  });
  client.on("error", () => {});
  return client;
}

/** Tape positions absent from `client`'s stream `key`. */
export async function missingPositions(
  client: Redis,
  key: string,
  tape: { tradeId: string }[],
): Promise<number[]> {
  const entries = await client.xrange(key, "-", "+");
  const present = new Set(entries.map(([, f]) => f[f.indexOf("trade_id") + 1]));
  return tape.flatMap((t, i) => present.has(t.tradeId) ? [] : [i]);
}

/** How a master left and how long until btcfeed's trades landed on its successor. */
export interface Recovery {
  oldPort: number;
  newPort: number;
  /** Entries of the watched stream on the new master when it was elected, before btcfeed wrote. */
  atPromotion: number;
  /** From the fault to the sentinels reporting the new master. */
  electedMs: number;
  /** From the fault to the first trade btcfeed wrote to the new master. */
  landedMs: number;
}

/**
 * After a fault of the master announced on `oldPort` at `faultAt` (ms since the epoch): waits for
 * the sentinels to promote another node, then for `key` to grow on it.
 */
export async function awaitRecovery(
  group: SentinelGroup,
  oldPort: number,
  faultAt: number,
  key: string,
): Promise<Recovery> {
  const newPort = await group.waitForNewMaster(oldPort);
  const electedMs = Date.now() - faultAt;
  const promoted = reader(group.node(newPort).port, group.dataClientOptions);
  try {
    const atPromotion = await promoted.xlen(key);
    await waitFor(async () => (await promoted.xlen(key)) > atPromotion, 30_000, "new trades");
    return { oldPort, newPort, atPromotion, electedMs, landedMs: Date.now() - faultAt };
  } finally {
    promoted.disconnect();
  }
}

/** One line for the test log. */
export function describeRecovery(how: string, r: Recovery): string {
  return `master :${r.oldPort} ${how} -> :${r.newPort} elected after ${r.electedMs} ms, ` +
    `trades landing after ${r.landedMs} ms`;
}
