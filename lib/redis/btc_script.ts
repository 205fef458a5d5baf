/**
 * The consolidated script: records trades of the market behind the consolidated price in
 * `P:btc:last` (and, with `--legacy-keys`, in `last_btc_price`, `last_btc_update_time`,
 * `btc_movement_history`, publishing on `btc_price`), after the market's own script
 * (apply_script.ts) has written them. A separate call, so that on a Redis Cluster its keys live
 * in their own slot and no call is ever cross-slot.
 *
 * Guarantees:
 * - Never back in trade time: a trade is recorded only when it is newer than what `P:btc:last`
 *   holds: a later trade time (`ts`), or the same `ts` from the same market with a greater
 *   entry ID. A slower market's trade, a backfilled or replayed one older than the current
 *   price, changes nothing. With legacy keys, a trade whose second is before
 *   `last_btc_update_time` is not recorded either, so neither moves back even when one of them
 *   was deleted.
 * - Idempotent: re-applying a batch records nothing (each trade is then not newer than itself).
 * - Late batches (`late` = 1) may move the keys forward in time (a replay after an outage brings
 *   the newest trades) but are never published on `btc_price`, whose consumers treat every
 *   message as live. The history list takes every recorded trade, live or late, so it stays in
 *   trade-time order; the channel only live ones.
 * - With `guard` (KEYS[5], the market's stream; standalone and Sentinel primaries, where this call
 *   rides in the same pipeline as the market's script), a trade is recorded only if the stream
 *   holds its entry: a chunk the market's script refused (`BTCFEED_WRONGTYPE`/`BTCFEED_INVALID`)
 *   or a trade it found out-of-order is never recorded. Without it (Redis Cluster) the writer
 *   calls this only after the market's script answered, with the trades it accepted.
 * - Trade flags (the optional 8th field of a trade argument) are validated like the market's
 *   script does but not carried: `P:btc:last`, the legacy keys and `btc_price` have no `flags`
 *   (the market's `last` hash and stream entry have them).
 * - Input is validated with the same rules as the market's script, and every key it may write is
 *   type-checked, before the first write: `BTCFEED_INVALID ...` / `BTCFEED_WRONGTYPE ...` error
 *   replies write nothing.
 *
 * KEYS: btcLast, then (with legacy or guard) legacy price, legacy update time, legacy history,
 * then [guard stream]; with neither, `P:btc:last` alone (one slot on a cluster).
 * ARGV: market, legacy (0/1), late (0/1), legacy channel, then one argument per trade
 * (`encodeTradeArg`), in the market's trade order.
 * Without legacy keys only the newest trade matters: the script looks from the end of the batch
 * for the first trade that is newer and held by the stream (one guard lookup in the live case).
 * Reply: `[recorded, published]` (trades recorded: with legacy keys each one that moved them
 * forward, without them 1 when `P:btc:last` moved; messages on the legacy channel).
 */

import { createHash } from "node:crypto";
import { APPLY_LUA_HELPERS, LUA_PREAMBLE, PARSE_TRADES_LUA } from "./_apply_lua.ts";
import { LEGACY_HISTORY_LENGTH } from "./keys.ts";

/** Number of ARGV entries before the first trade. */
export const BTC_HEADER_ARGS = 4;

/**
 * Lua reading what `P:btc:last` (and the legacy update time) hold, into the locals `curTs`,
 * `curMarket`, `curId` and `floorSecs` (nil when missing or not what the script writes).
 */
const BTC_CURRENT_LUA = `local cur = redis.call('HMGET', K_BTC, 'ts', 'market', 'id')
-- A missing field is false; a field that is not what this script writes counts as missing.
local curTs, curMarket, curId = cur[1] or nil, cur[2] or nil, cur[3] or nil
if curTs and not (find(curTs, '^%d+$') and digitsOk(curTs)) then curTs = nil end
if curId and not find(curId, '^%d+%-%d+$') then curId = nil end
local floorSecs = legacy and redis.call('GET', K_LTIME) or nil -- false when missing
if floorSecs and not (find(floorSecs, '^%d+$') and digitsOk(floorSecs)) then floorSecs = nil end
`;

/** The Lua source of the consolidated script. */
export const BTC_SCRIPT = `
local K_BTC, K_LPRICE, K_LTIME, K_LHIST, K_GUARD = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local market, legacy, late, chLegacy = ARGV[1], ARGV[2] == '1', ARGV[3] == '1', ARGV[4]
local FIRST = ${BTC_HEADER_ARGS + 1}
${LUA_PREAMBLE}
${APPLY_LUA_HELPERS}
${PARSE_TRADES_LUA}
local clash = wrongType(K_BTC, 'hash')
  or (legacy and (wrongType(K_LPRICE, 'string') or wrongType(K_LTIME, 'string')
    or wrongType(K_LHIST, 'list')))
  or (K_GUARD and wrongType(K_GUARD, 'stream'))
if clash then return redis.error_reply('BTCFEED_WRONGTYPE ' .. clash) end

${BTC_CURRENT_LUA}
local function newer(id, ts)
  if not curTs then return true end
  local c = ucmp(ts, curTs)
  return c > 0 or (c == 0 and curMarket == market and curId and idcmp(id, curId) > 0)
end
local function held(id)
  return not K_GUARD or #redis.call('XRANGE', K_GUARD, id, id, 'COUNT', 1) > 0
end
local newest, published, recorded = nil, 0, 0
local hist = {}
if not legacy then
  -- Only the newest counts: from the end, the first newer trade the stream holds.
  for n = count, 1, -1 do
    if not newer(IDS[n], TSS[n]) then break end
    if held(IDS[n]) then newest, recorded = n, 1; break end
  end
end
for n = 1, legacy and count or 0 do
  local id, ts = IDS[n], TSS[n]
  local secs = sub(ts, 1, #ts - 3)
  if newer(id, ts) and not (floorSecs and ucmp(secs, floorSecs) < 0) and held(id) then
    curTs, curMarket, curId, newest, recorded = ts, market, id, n, recorded + 1
    local j = '{"price":' .. PRICES[n] .. ',"timestamp":' .. secs .. '.' .. sub(ts, -3) ..
      ',"volume":' .. SIZES[n] .. '}'
    hist[#hist + 1] = j
    if not late then
      redis.call('PUBLISH', chLegacy, j)
      published = published + 1
    end
  end
end

if newest then
  local ts = TSS[newest]
  redis.call('HSET', K_BTC, 'price', PRICES[newest], 'size', SIZES[newest],
    'side', SIDES[newest], 'trade_id', TIDS[newest], 'ts', ts, 'received_at', RECVS[newest],
    'market', market, 'id', IDS[newest])
  if legacy then
    redis.call('SET', K_LPRICE, PRICES[newest])
    redis.call('SET', K_LTIME, sub(ts, 1, #ts - 3))
    redis.call('LPUSH', K_LHIST, unpack(hist))
    redis.call('LTRIM', K_LHIST, 0, ${LEGACY_HISTORY_LENGTH - 1})
  end
end
return {recorded, published}
`;

/** SHA1 of {@link BTC_SCRIPT}, as EVALSHA expects it. */
export const BTC_SCRIPT_SHA = createHash("sha1").update(BTC_SCRIPT).digest("hex");
