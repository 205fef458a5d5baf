/**
 * One table of trades, valid and invalid, run against both places that enforce the trade rules:
 * `tradeProblem` (the writer's and the outbox's check, lib/trade.ts) and the apply script's own
 * validation pass on a real redis-server. Both must agree on every row.
 */

import assert from "node:assert/strict";
import type { Redis } from "ioredis";
import {
  entryIdFor,
  MAX_TRADE_MS,
  MIN_TRADE_MS,
  type Trade,
  tradeProblem,
} from "../../lib/trade.ts";
import { APPLY_NUM_KEYS, APPLY_SCRIPT, encodeTradeArg } from "../../lib/redis/apply_script.ts";
import { isStorable } from "../../lib/store/_journal_sql.ts";
import { makeTrade, withRedis } from "./_helpers.ts";

const M = "binance:BTC-USDT";
const U64_MAX = "18446744073709551615";
const U64_OVER = "18446744073709551616";

/** A field override and whether the resulting trade is valid. `id` follows `ts`/`tradeId`. */
type Case = [name: string, over: Record<string, unknown>, valid: boolean];

const CASES: Case[] = [
  ["the base trade", {}, true],
  // price and size: plain decimal text above zero, at most 64 characters
  ["integer price", { price: "117250" }, true],
  ["fraction below one", { price: "0.00000001" }, true],
  ["trailing zeros kept", { size: "1.5000" }, true],
  ["64-character price", { price: "1" + "0".repeat(63) }, true],
  ["65-character price", { price: "1" + "0".repeat(64) }, false],
  ["64-character size with fraction", { size: "0." + "0".repeat(61) + "1" }, true],
  ["zero price", { price: "0" }, false],
  ["zero with fraction", { price: "0.000" }, false],
  ["zero size", { size: "0" }, false],
  ["negative price", { price: "-1" }, false],
  ["plus sign", { price: "+1" }, false],
  ["exponent", { price: "1e5" }, false],
  ["capital exponent", { size: "1E-3" }, false],
  ["leading zero", { size: "01.5" }, false],
  ["double leading zero", { size: "00.5" }, false],
  ["leading dot", { price: ".5" }, false],
  ["trailing dot", { price: "1." }, false],
  ["two dots", { price: "1.2.3" }, false],
  ["comma", { price: "1,5" }, false],
  ["empty price", { price: "" }, false],
  ["infinity", { price: "Infinity" }, false],
  ["hex", { size: "0x10" }, false],
  // side
  ["sell", { side: "sell" }, true],
  ["upper-case side", { side: "BUY" }, false],
  ["other side", { side: "hold" }, false],
  ["empty side", { side: "" }, false],
  // trade ids: unsigned 64-bit decimal text
  ["trade id 0", { tradeId: "0" }, true],
  ["largest 64-bit trade id", { tradeId: U64_MAX }, true],
  ["trade id over 64 bits", { tradeId: U64_OVER }, false],
  ["trade id with leading zero", { tradeId: "012" }, false],
  ["negative trade id", { tradeId: "-5" }, false],
  ["trade id with letters", { tradeId: "abc" }, false],
  // entry ids
  ["entry id ahead of the trade time", { id: `${MIN_TRADE_MS + 5}-7` }, true],
  ["entry id 0-0", { id: "0-0" }, false],
  ["entry id without sequence", { id: "5-" }, false],
  ["entry id with leading zero", { id: "01-1" }, false],
  ["entry id sequence over 64 bits", { id: `1-${U64_OVER}` }, false],
  ["entry id with three parts", { id: "1-2-3" }, false],
  // trade time and receive time: whole ms from 2001-09-09 to 2100-01-01
  ["earliest trade time", { ts: MIN_TRADE_MS }, true],
  ["latest trade time", { ts: MAX_TRADE_MS }, true],
  ["before 2001", { ts: MIN_TRADE_MS - 1 }, false],
  ["after 2100", { ts: MAX_TRADE_MS + 1 }, false],
  ["zero time", { ts: 0 }, false],
  ["fractional time", { ts: 1_700_000_000_000.5 }, false],
  ["negative time", { ts: -1_700_000_000_000 }, false],
  ["time in seconds", { ts: 1_700_000_000 }, false],
  ["time in microseconds", { ts: 1_700_000_000_000_000 }, false],
  ["receivedAt in range", { receivedAt: MAX_TRADE_MS }, true],
  ["receivedAt zero", { receivedAt: 0 }, false],
  ["receivedAt 16 digits", { receivedAt: 1_234_567_890_123_456 }, false],
  // market
  ["another valid market", { market: "okx:BTC-USDT" }, true],
  ["upper-case exchange", { market: "Binance:BTC-USDT" }, false],
  ["market without quote", { market: "binance:BTC" }, false],
  // flags: absent, or distinct known flags in canonical order (block before rpi)
  ["block trade", { flags: ["block"] }, true],
  ["rpi trade", { flags: ["rpi"] }, true],
  ["block and rpi", { flags: ["block", "rpi"] }, true],
  ["empty flag list", { flags: [] }, false],
  ["rpi before block", { flags: ["rpi", "block"] }, false],
  ["repeated flag", { flags: ["block", "block"] }, false],
  ["three flags", { flags: ["block", "rpi", "rpi"] }, false],
  ["unknown flag", { flags: ["odd"] }, false],
  ["upper-case flag", { flags: ["BLOCK"] }, false],
  ["empty flag", { flags: [""] }, false],
  ["flag with a space", { flags: ["block rpi"] }, false],
];

function tradeOf(over: Record<string, unknown>): Trade {
  const t = { ...makeTrade(M, 1), ...over } as Trade;
  if (!("id" in over)) t.id = entryIdFor(t.ts, t.tradeId);
  return t;
}

/** The script's verdict: true when it applied the trade, false when it refused it as invalid. */
async function scriptAccepts(redis: Redis, t: Trade): Promise<boolean> {
  await redis.flushdb();
  const market = typeof t.market === "string" ? t.market : M;
  const keys = ["t", "l", "c", "f"];
  const head = [market, 100, 0, "ch", 60, ""];
  try {
    const reply = await redis.eval(
      APPLY_SCRIPT,
      APPLY_NUM_KEYS,
      ...keys,
      ...head,
      encodeTradeArg(t),
    );
    assert.deepEqual(reply, [1, 0, 0], "a valid trade is applied");
    return true;
  } catch (e) {
    if (!/^BTCFEED_INVALID/.test((e as Error).message)) throw e;
    assert.equal(await redis.dbsize(), 0, "an invalid trade writes nothing");
    return false;
  }
}

Deno.test("the TypeScript check and the outbox follow the one table of trade rules", () => {
  for (const [name, over, valid] of CASES) {
    const t = tradeOf(over);
    assert.equal(tradeProblem(t) === null, valid, `${name}: ${tradeProblem(t)}`);
    assert.equal(isStorable(t), valid, `${name} (outbox)`);
  }
});

Deno.test("flags the script argument could not tell apart are refused before it is encoded", () => {
  // `["block,rpi"]` encodes like `["block","rpi"]`: only tradeProblem (the writer's and the
  // outbox's check, run before any encoding) can refuse it, and it does; likewise a non-list.
  for (const flags of [["block,rpi"], "block", null, [null], ["block", 1]]) {
    assert.equal(tradeProblem(tradeOf({ flags })), "bad flags", JSON.stringify(flags));
  }
});

Deno.test("the apply script follows the same table of trade rules", async () => {
  await withRedis(async (redis) => {
    for (const [name, over, valid] of CASES) {
      assert.equal(await scriptAccepts(redis, tradeOf(over)), valid, name);
    }
  });
});
