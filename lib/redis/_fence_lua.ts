/**
 * The fencing check of the apply script (private to lib/redis; spliced into apply_script.ts
 * right after its preamble, before anything is read or written).
 *
 * Group mode (several feeders, one writer at a time, see lib/failover/feeder_group.ts): every
 * write carries the writer's lease epoch, and each market has a fence key in its own hash-tag
 * slot holding the highest epoch that wrote to it. A call whose epoch is below the fence fails
 * with an error reply starting `BTCFEED_FENCED` and writes nothing; a higher epoch raises the
 * fence (before the rest of the script runs: a call then refused for its content still raised
 * it, which is harmless, the epoch being the caller's own). An empty epoch (a single feeder, the
 * default) skips the check, so today's behaviour is unchanged.
 *
 * The consolidated script (btc_script.ts) needs no fence of its own: it records only trades the
 * market's stream holds (standalone: its guard key) or that the market's fenced call accepted
 * (cluster), and never moves `P:btc:last` back in trade time, so a stale writer cannot move it.
 *
 * Uses the script's KEYS[FENCE_KEY_INDEX] (the fence) and ARGV[FENCE_ARG_INDEX] (the epoch).
 */

/** 1-based KEYS index of the fence key. */
export const FENCE_KEY_INDEX = 4;
/** 1-based ARGV index of the epoch. */
export const FENCE_ARG_INDEX = 6;

/** The Lua check. */
export const FENCE_LUA = `
local fenceEpoch = ARGV[${FENCE_ARG_INDEX}]
if fenceEpoch ~= '' then
  local e = tonumber(fenceEpoch)
  local f = tonumber(redis.call('GET', KEYS[${FENCE_KEY_INDEX}]) or '0') or 0
  if not e then return redis.error_reply('BTCFEED_INVALID epoch') end
  if e < f then
    return redis.error_reply('BTCFEED_FENCED epoch ' .. fenceEpoch .. ' is below the fence ' .. f)
  end
  if e > f then redis.call('SET', KEYS[${FENCE_KEY_INDEX}], fenceEpoch) end
end
`;
