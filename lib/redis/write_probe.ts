/**
 * The write probe: asks the primary whether it takes btcfeed's writes, not merely whether it
 * answers (a read-only replica, a primary at maxmemory or one failing to persist all answer PING).
 *
 * What one probe sends, in one pipeline on the client it is given (the same commands as the
 * write path, so it needs no permission the write path does not):
 * - `SCRIPT LOAD` of a tiny script, then `EVALSHA` of it;
 * - the script first asks the ACL (`redis.acl_check_cmd`, Redis 7+; skipped on older servers)
 *   whether this user may run every command the write path runs — the apply script's, the gap
 *   recorder's, the last-trade read — on keys and channels of the same shapes, and answers
 *   `NOPERM <what is missing>` for the first one it may not (no side effect);
 * - then writes `SET P:{btcfeed:probe}:write 1 PX 60000`: one tiny idempotent write to a key in
 *   its own hash tag, which no market, reader or consumer uses. It never touches user data.
 *   Refused writes surface as the server's own reply codes: READONLY, OOM, MISCONF, LOADING.
 *
 * The per-market keys are checked with the placeholder market `btcfeed:probe`, so an ACL whose
 * key patterns admit only some markets' keys (rather than `P:*`) is not judged correctly here;
 * a write it refuses still fails over and is reported with the same reason.
 *
 * On a Redis Cluster the script goes by EVAL (no keyless SCRIPT LOAD to route) to the probe key's
 * slot, and a node's `CLUSTER INFO` must say `cluster_state:ok` (every slot served); a failed
 * master whose replica is not promoted yet makes the probe fail like an outage.
 */

import type { RedisClient } from "./client.ts";
import { createHash } from "node:crypto";
import { btcLastKey, LEGACY_KEYS, marketKeys, probeKey, tradesChannel } from "./keys.ts";
import { commandWithin } from "./client.ts";

/** How long the probe key lives after the last probe. */
export const PROBE_TTL_MS = 60_000;
/** The placeholder market whose key shapes the ACL is asked about. */
export const PROBE_MARKET = "btcfeed:probe";

/** The probe's Lua source (KEYS: probe key; ARGV: value, ttl ms, then `argc, argv...` checks). */
export const WRITE_PROBE_SCRIPT = `
local i = 3
while i <= #ARGV do
  local n = tonumber(ARGV[i])
  local args = {}
  for j = 1, n do args[j] = ARGV[i + j] end
  i = i + n + 1
  if redis.acl_check_cmd and not redis.acl_check_cmd(unpack(args)) then
    return redis.error_reply('NOPERM this user may not run ' .. string.upper(args[1]) ..
      ' on ' .. (args[2] or '') .. ': grant it to the ACL user btcfeed connects as')
  end
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
`;
const WRITE_PROBE_SHA = createHash("sha1").update(WRITE_PROBE_SCRIPT).digest("hex");

/** What the write path needs of the primary. */
export interface WriteProbeOptions {
  prefix: string;
  /** The legacy keys are written too (`--legacy-keys`). */
  legacyKeys: boolean;
}

/**
 * Every command the write path sends to the primary, with keys and channels of its shapes. The
 * scripts' commands are kept in step by a test that reads their `redis.call`s.
 */
export function writePathCommands(o: WriteProbeOptions): string[][] {
  const k = marketKeys(o.prefix, PROBE_MARKET);
  const commands = [
    ["TYPE", k.trades],
    ["EXISTS", k.trades],
    ["XINFO", "STREAM", k.trades],
    ["XADD", k.trades, "MAXLEN", "~", "1", "1-1", "f", "v"],
    ["XRANGE", k.trades, "1-1", "1-1", "COUNT", "1"],
    ["XTRIM", k.trades, "MAXLEN", "~", "1"],
    ["HGET", k.candles, "f"],
    ["HSET", k.candles, "f", "v"],
    ["HDEL", k.candles, "f"],
    ["HEXISTS", k.candles, "f"],
    ["HKEYS", k.candles],
    ["HSET", k.last, "f", "v"],
    ["HGETALL", k.last],
    ["TYPE", btcLastKey(o.prefix)],
    ["HMGET", btcLastKey(o.prefix), "f"],
    ["HSET", btcLastKey(o.prefix), "f", "v"],
    ["PUBLISH", tradesChannel(o.prefix), "m"],
    ["XADD", k.gaps, "MAXLEN", "~", "1", "1-1", "f", "v"],
    ["GET", k.fence],
    ["SET", k.fence, "1"],
  ];
  if (o.legacyKeys) {
    commands.push(
      ["TYPE", LEGACY_KEYS.price],
      ["GET", LEGACY_KEYS.updateTime],
      ["SET", LEGACY_KEYS.price, "v"],
      ["SET", LEGACY_KEYS.updateTime, "v"],
      ["LPUSH", LEGACY_KEYS.history, "v"],
      ["LTRIM", LEGACY_KEYS.history, "0", "1"],
      ["PUBLISH", LEGACY_KEYS.channel, "m"],
    );
  }
  return commands;
}

/** Probes one Redis's willingness to take btcfeed's writes. */
export class WriteProbe {
  readonly #redis: RedisClient;
  readonly #args: string[];

  constructor(redis: RedisClient, options: WriteProbeOptions) {
    this.#redis = redis;
    const checks = writePathCommands(options).flatMap((c) => [String(c.length), ...c]);
    this.#args = [probeKey(options.prefix), "1", String(PROBE_TTL_MS), ...checks];
  }

  /**
   * Connects if needed and probes; resolves with the round trip in ms.
   * @throws DeadlineError after `ms`, the connection error, or the refusal's error reply.
   */
  within(ms: number): Promise<number> {
    return commandWithin(this.#redis, ms, "write probe", async () => {
      if (this.#redis.isCluster) return await this.#clusterProbe();
      const replies = await this.#redis.pipeline()
        .script("LOAD", WRITE_PROBE_SCRIPT)
        .evalsha(WRITE_PROBE_SHA, 1, ...this.#args)
        .exec();
      for (const [err] of replies ?? []) if (err) throw err;
    });
  }

  /**
   * On a cluster: the probe script by EVAL, routed (and redirected) by ioredis to the probe key's
   * master, and `CLUSTER INFO` of a node: a cluster that does not serve every slot is not fit.
   */
  async #clusterProbe(): Promise<void> {
    await this.#redis.eval(WRITE_PROBE_SCRIPT, 1, ...this.#args);
    const info = String(await this.#redis.call("CLUSTER", "INFO"));
    const state = /cluster_state:(\w+)/.exec(info)?.[1];
    if (state !== "ok") throw new Error(`CLUSTERDOWN cluster_state is ${state ?? "unknown"}`);
  }
}
