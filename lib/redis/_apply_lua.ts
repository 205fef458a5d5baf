/**
 * The pure Lua helpers of the apply script (private to lib/redis; see apply_script.ts): decimal
 * and ID comparison, exact decimal addition, input checks with the trade rules of
 * `lib/trade.ts` generated into the source, the candle volume fast path, and the key-type check.
 * They read no key and write nothing, except `wrongType`, which only reads a key's type.
 * They expect the locals `find sub rep fmt byte match POW10` of the script's preamble.
 * {@link PARSE_TRADES_LUA} is the input pass both scripts share (market name and trade rows).
 */

import { FLAG_TEXTS, MAX_DECIMAL_CHARS, MAX_TRADE_MS, MIN_TRADE_MS } from "../trade.ts";

/** The preamble both scripts start with: the string functions the helpers use, as locals. */
export const LUA_PREAMBLE = `
local find, sub, rep, fmt, byte, match =
  string.find, string.sub, string.rep, string.format, string.byte, string.match
local POW10 = {[0] = 1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000}
`;

/** Lua table from each valid flags text (`FLAG_TEXTS`) to its JSON array, for `P:trades`. */
const FLAG_JSON_LUA = `local FLAG_JSON = {${
  FLAG_TEXTS.map((t) => `['${t}'] = '${JSON.stringify(t.split(","))}'`).join(", ")
}}`;

/**
 * Lua that validates `market` and the trade rows `ARGV[FIRST..]` (one per trade, see
 * `encodeTradeArg`) into the tables IDS MSS SEQS TIDS PRICES SIZES SIDES TSS RECVS FLAGS and
 * `count`, or returns a `BTCFEED_INVALID` error reply before anything is written. FLAGS[n] is
 * the trade's flags text (`block`, `rpi`, `block,rpi`) or false; FLAG_JSON maps a flags text to
 * its JSON array. Expects the locals `market` and `FIRST` and the helpers.
 */
export const PARSE_TRADES_LUA = `
if not find(market, '^[a-z][a-z0-9]*:[A-Z0-9]+%-[A-Z0-9]+$') then
  return redis.error_reply('BTCFEED_INVALID market')
end
${FLAG_JSON_LUA}
local count = #ARGV - FIRST + 1
local IDS, MSS, SEQS, TIDS, PRICES, SIZES, SIDES, TSS, RECVS = {}, {}, {}, {}, {}, {}, {}, {}, {}
local FLAGS = {}
for n = 1, count do
  local id, ms, seq, tid, price, size, side, ts, recv, rest = match(ARGV[FIRST + n - 1],
    '^((%d+)%-(%d+)) (%d+) ([%d.]+) ([%d.]+) ([a-z]+) (%d+) (%d+)(.*)$')
  -- An 8th field, after one space, is a flags text; anything else after receivedAt is invalid.
  local flags = id and rest ~= '' and byte(rest, 1) == 32 and sub(rest, 2) or false
  if not id or not digitsOk(ms) or not digitsOk(seq) or id == '0-0' or not digitsOk(tid)
    or not decOk(price) or not decOk(size) or (side ~= 'buy' and side ~= 'sell')
    or not msOk(ts) or not msOk(recv) or (rest ~= '' and not FLAG_JSON[flags]) then
    return redis.error_reply('BTCFEED_INVALID trade at index ' .. (n - 1))
  end
  IDS[n], MSS[n], SEQS[n], TIDS[n], PRICES[n], SIZES[n] = id, ms, seq, tid, price, size
  SIDES[n], TSS[n], RECVS[n], FLAGS[n] = side, ts, recv, flags
end
`;

/** Lua source spliced into both scripts after their preamble. */
export const APPLY_LUA_HELPERS = `
local function ucmp(a, b)
  if #a ~= #b then return #a < #b and -1 or 1 end
  if a == b then return 0 end
  return a < b and -1 or 1
end
-- Unsigned decimal integer text without leading zeros that fits in 64 bits.
local function uintOk(s)
  local n = #s
  if n == 0 or n > 20 or (n > 1 and byte(s, 1) == 48) or find(s, '%D') then return false end
  return n < 20 or s <= '18446744073709551615'
end
-- uintOk for text already known to be digits only.
local function digitsOk(s)
  local n = #s
  if n > 1 and byte(s, 1) == 48 then return false end
  return n < 20 or (n == 20 and s <= '18446744073709551615')
end
-- Plain decimal text (only digits and dots, by the caller's pattern) above zero: at most one
-- dot, not first or last, no leading zero, at most MAX_DECIMAL_CHARS chars.
local function decOk(s)
  local n = #s
  if n > ${MAX_DECIMAL_CHARS} or byte(s, 1) == 46 or byte(s, n) == 46 or not find(s, '[1-9]') then
    return false
  end
  local p = find(s, '.', 1, true)
  if p and find(s, '.', p + 1, true) then return false end
  return n == 1 or byte(s, 1) ~= 48 or byte(s, 2) == 46
end
-- Whole ms (digits only, by the caller's pattern) within the accepted trade times.
local function msOk(s)
  if #s > 1 and byte(s, 1) == 48 then return false end
  return ucmp(s, '${MIN_TRADE_MS}') >= 0 and ucmp(s, '${MAX_TRADE_MS}') <= 0
end
local function idcmp(a, b)
  local am, as = match(a, '^(%d+)%-(%d+)$')
  local bm, bs = match(b, '^(%d+)%-(%d+)$')
  local c = ucmp(am, bm)
  if c ~= 0 then return c end
  return ucmp(as, bs)
end
local function dsplit(s)
  local p = find(s, '.', 1, true)
  if p then return sub(s, 1, p - 1), sub(s, p + 1) end
  return s, ''
end
local function dcmp(a, b)
  local ai, af = dsplit(a)
  local bi, bf = dsplit(b)
  local c = ucmp(ai, bi)
  if c ~= 0 then return c end
  if #af < #bf then af = af .. rep('0', #bf - #af) else bf = bf .. rep('0', #af - #bf) end
  return ucmp(af, bf)
end
local function dadd(a, b)
  local ai, af = dsplit(a)
  local bi, bf = dsplit(b)
  local fl = math.max(#af, #bf)
  local il = math.max(#ai, #bi)
  local x = rep('0', il - #ai) .. ai .. af .. rep('0', fl - #af)
  local y = rep('0', il - #bi) .. bi .. bf .. rep('0', fl - #bf)
  local parts, carry, i = {}, 0, #x
  while i >= 1 do
    local j = i - 8
    if j < 1 then j = 1 end
    local w = i - j + 1
    local s = tonumber(sub(x, j, i)) + tonumber(sub(y, j, i)) + carry
    local lim = 10 ^ w
    if s >= lim then carry = 1; s = s - lim else carry = 0 end
    parts[#parts + 1] = fmt('%0' .. w .. 'd', s)
    i = j - 1
  end
  if carry == 1 then parts[#parts + 1] = '1' end
  local digits, n = {}, #parts
  for k = n, 1, -1 do digits[n - k + 1] = parts[k] end
  local all = table.concat(digits)
  local ip = (string.gsub(sub(all, 1, #all - fl), '^0+', ''))
  if ip == '' then ip = '0' end
  if fl == 0 then return ip end
  return ip .. '.' .. sub(all, #all - fl + 1)
end

-- Volume fast path: sizes with <= 6 integer and <= 9 fraction digits are summed as integer
-- nano-units in a double (exact below 2^53) and folded into the decimal text sum here.
local function flushVolume(cd)
  if cd.accN == 0 then return end
  local s = fmt('%.0f', cd.acc)
  if #s < 10 then s = rep('0', 10 - #s) .. s end
  local text = sub(s, 1, #s - 9)
  if cd.accScale > 0 then text = text .. '.' .. sub(s, #s - 8, #s - 9 + cd.accScale) end
  if cd.v then cd.v = dadd(cd.v, text) else cd.v = text end
  cd.acc, cd.accN, cd.accScale = 0, 0, 0
end
-- A price as a double when that comparison is exact (<= 15 digits), else false.
local function priceNum(p)
  return #p <= 15 and tonumber(p) or false
end
-- Nil when the key is absent or of type want, else why it is not: checked for every key a
-- call may write BEFORE the first write, so a key collision never half-writes a trade.
local function wrongType(key, want)
  local t = redis.call('TYPE', key)['ok']
  if t == 'none' or t == want then return nil end
  return key .. ' is a ' .. t .. ', not a ' .. want
end
`;
