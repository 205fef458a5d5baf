/**
 * Bybit block and RPI trades end to end through the real `btcfeed stream`: the fake sends `BT`
 * and `RPI` on some tape trades, and the primary's stream entries carry exactly those flags (and
 * no others), `last` those of the newest trade, while `P:btc:last` carries none.
 */

import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { waitFor } from "../support/cli.ts";
import { btcLastKey, marketKeys } from "../../lib/redis/keys.ts";
import type { TradeFlag } from "../../lib/trade.ts";
import { assertFullTape, tradeCount, withEnv } from "./_harness.ts";

const TRADES = 600;

/** Block, RPI, both or none in an irregular pattern; the newest trade is both. */
function flagsAt(i: number): TradeFlag[] | undefined {
  if (i === TRADES - 1 || i % 11 === 0) return ["block", "rpi"];
  return i % 7 === 3 ? ["block"] : i % 5 === 1 ? ["rpi"] : undefined;
}

Deno.test("bybit: block and RPI trades land with exactly their flags, unflagged ones with none", async () => {
  await withEnv([{
    exchange: "bybit",
    trades: TRADES,
    ratePerSec: 2_000,
    startMicros: Date.now() * 1000,
    tradeFlags: flagsAt,
  }], async (env) => {
    const fake = env.fakes[0];
    const market = fake.tape[0].market;
    const stream = env.startStream();
    await waitFor(
      async () => (await tradeCount(env.client, market)) >= TRADES,
      30_000,
      `${TRADES} bybit trades`,
    );
    await assertFullTape(env.client, fake); // every field, flags and last's included
    const entries = await env.client.xrange(marketKeys("btcfeed", market).trades, "-", "+");
    const flagsOf = (flat: string[]) => {
      const at = flat.indexOf("flags");
      return at >= 0 && at % 2 === 0 ? flat[at + 1] : "";
    };
    const got = entries.map(([, flat]) => flagsOf(flat));
    const want = fake.tape.map((t) => t.flags?.join(",") ?? "");
    assertEquals(got, want);
    const counts = (list: string[]) =>
      ["block", "rpi", "block,rpi", ""].map((f) => list.filter((x) => x === f).length);
    assertEquals(counts(got).every((n) => n > 0), true, `every kind on the tape: ${counts(got)}`);
    const last = await env.client.hgetall(marketKeys("btcfeed", market).last);
    assertEquals(last.flags, "block,rpi");
    const btc = await env.client.hgetall(btcLastKey("btcfeed"));
    assertEquals([btc.trade_id, "flags" in btc], [fake.tape[TRADES - 1].tradeId, false]);
    assertEquals((await stream.stop()).code, 0);
  });
});
