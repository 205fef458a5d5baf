/**
 * How the writer cuts a batch into script calls (private to lib/redis; see writer.ts): chunks of
 * one market and one lateness, in trade order, and the KEYS/ARGV of each script call.
 * Pure: no I/O.
 */

import type { Trade } from "../trade.ts";
import type { WriterOptions } from "../defaults.ts";
import { APPLY_NUM_KEYS } from "./apply_script.ts";
import { encodeTradeArg } from "./apply_script.ts";
import { btcLastKey, LEGACY_KEYS, marketKeys, tradesChannel } from "./keys.ts";

/** A script call's arguments after its SHA or source: numkeys, KEYS, ARGV. */
export type ScriptArgs = [numKeys: number, ...rest: (string | number)[]];

/** Trades of one market, all live or all late, in trade order: one script call each. */
export interface Chunk {
  market: string;
  trades: Trade[];
  late: boolean;
  /** The market feeds `P:btc:last` (the consolidated script runs for this chunk). */
  consolidated: boolean;
}

/**
 * The chunks of `byMarket` (each list in trade order), at most `chunkSize` trades each, a new
 * chunk wherever lateness changes; `late` true makes every trade late.
 */
export function chunksOf(
  byMarket: Map<string, Trade[]>,
  isConsolidated: (market: string) => boolean,
  chunkSize: number,
  late: boolean,
): Chunk[] {
  const chunks: Chunk[] = [];
  for (const [market, list] of byMarket) {
    const consolidated = isConsolidated(market);
    let current: Chunk | null = null;
    for (const t of list) {
      const tradeLate = late || t.late === true;
      if (!current || current.late !== tradeLate || current.trades.length >= chunkSize) {
        chunks.push(current = { market, trades: [], late: tradeLate, consolidated });
      }
      current.trades.push(t);
    }
  }
  return chunks;
}

/**
 * Arguments of the market's script for `chunk`, after the SHA: numkeys, KEYS, ARGV; `epoch` is
 * the writer's lease epoch (group mode, fenced) or null (no fence check).
 */
export function applyArgs(o: WriterOptions, chunk: Chunk, epoch: number | null): ScriptArgs {
  const keys = marketKeys(o.prefix, chunk.market);
  const args: ScriptArgs = [
    APPLY_NUM_KEYS,
    keys.trades,
    keys.last,
    keys.candles,
    keys.fence,
    chunk.market,
    o.maxTrades,
    chunk.late ? "1" : "0",
    tradesChannel(o.prefix),
    o.candleRetentionMinutes,
    epoch === null ? "" : String(epoch),
  ];
  for (const t of chunk.trades) args.push(encodeTradeArg(t));
  return args;
}

/**
 * Arguments of the consolidated script for `trades` of `chunk`, after the SHA; `guard` adds the
 * market's stream as KEYS[5] (same pipeline as the market's script: standalone only). Without
 * legacy keys and guard, `P:btc:last` is the only key.
 */
export function btcArgs(
  o: WriterOptions,
  chunk: Chunk,
  trades: readonly Trade[],
  guard: boolean,
): ScriptArgs {
  // Only `P:btc:last` when nothing else is needed: on a cluster that is the call's one slot.
  const keys = [btcLastKey(o.prefix)];
  if (o.legacyKeys || guard) keys.push(LEGACY_KEYS.price, LEGACY_KEYS.updateTime);
  if (o.legacyKeys || guard) keys.push(LEGACY_KEYS.history);
  if (guard) keys.push(marketKeys(o.prefix, chunk.market).trades);
  const args: ScriptArgs = [keys.length, ...keys];
  args.push(chunk.market, o.legacyKeys ? "1" : "0", chunk.late ? "1" : "0", LEGACY_KEYS.channel);
  for (const t of trades) args.push(encodeTradeArg(t));
  return args;
}
