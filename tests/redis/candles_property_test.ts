import assert from "node:assert/strict";
import { marketKeys } from "../../lib/redis/keys.ts";
import { TradeWriter } from "../../lib/redis/writer.ts";
import { entryIdFor, type Trade } from "../../lib/trade.ts";
import { BASE_TS, decimalAdd, referenceCandles, withRedis } from "./_helpers.ts";
import { seededRandom } from "../support/rng.ts";

function randomDecimal(rand: () => number): string {
  const digits = (n: number) => Array.from({ length: n }, () => Math.floor(rand() * 10)).join("");
  const kind = rand();
  // Long runs of 9s make carries cross the script's 9-digit chunks.
  let int = kind < 0.2 ? "9".repeat(1 + Math.floor(rand() * 20)) : digits(Math.floor(rand() * 13));
  int = int.replace(/^0+/, "") || "0";
  const fracLen = Math.floor(rand() * 19);
  if (fracLen === 0) return int === "0" ? "1" : int;
  const frac = kind < 0.3 ? "9".repeat(fracLen) : digits(fracLen);
  // Prices and sizes are above zero by the trade rules: an all-zero draw becomes its last digit 1.
  return int === "0" && !/[1-9]/.test(frac) ? `0.${frac.slice(0, -1)}1` : `${int}.${frac}`;
}

const SEED = Number(Deno.env.get("BTCFEED_PROPERTY_SEED") ?? Date.now() % 1_000_000);

Deno.test(`candle OHLC and volume are exact decimal arithmetic for random trades (seed ${SEED})`, async () => {
  const rand = seededRandom(SEED);
  await withRedis(async (redis) => {
    const w = new TradeWriter(redis, { chunkSize: 1 + Math.floor(rand() * 50) });
    const cases: Trade[][] = [];
    for (let c = 0; c < 300; c++) {
      const market = `p${c}:BTC-USD`;
      const trades: Trade[] = [];
      let ts = BASE_TS + Math.floor(rand() * 60_000);
      for (let n = 1; n <= 1 + Math.floor(rand() * 12); n++) {
        ts += Math.floor(rand() * 40_000);
        const tradeId = String(n * 3);
        trades.push({
          market,
          tradeId,
          price: randomDecimal(rand),
          size: randomDecimal(rand),
          side: rand() < 0.5 ? "buy" : "sell",
          ts,
          receivedAt: ts,
          id: entryIdFor(ts, tradeId),
        });
      }
      cases.push(trades);
    }
    // Apply in a random split, then again whole: the second pass must change no candle.
    const flat = cases.flat();
    for (let i = 0; i < flat.length;) {
      const j = i + 1 + Math.floor(rand() * 200);
      await w.apply(flat.slice(i, j), () => false);
      i = j;
    }
    await w.apply(flat, () => false);
    for (const trades of cases) {
      const got = await redis.hgetall(marketKeys("btcfeed", trades[0].market).candles);
      assert.deepEqual(got, referenceCandles(trades), `seed ${SEED}, market ${trades[0].market}`);
    }
  });
});

Deno.test("the reference decimal sum carries exactly across long digit runs", () => {
  assert.equal(
    decimalAdd("99999999999999999.999999999", "0.000000001"),
    "100000000000000000.000000000",
  );
  assert.equal(decimalAdd("0.1", "0.2"), "0.3");
  assert.equal(decimalAdd("1", "0.50"), "1.50");
  assert.equal(decimalAdd("0", "0"), "0");
});

Deno.test("candle volume sums sizes exactly where floats would round", async () => {
  await withRedis(async (redis) => {
    const w = new TradeWriter(redis);
    const sizes = ["0.1", "0.2", "999999999.999999999", "0.000000001", "12345678901234567890.5"];
    const trades = sizes.map((size, i): Trade => {
      const ts = BASE_TS + i;
      return {
        market: "kraken:BTC-USD",
        tradeId: String(i + 1),
        price: ["100.5", "100.50", "99.999", "101", "100.4999"][i],
        size,
        side: "buy",
        ts,
        receivedAt: ts,
        id: entryIdFor(ts, String(i + 1)),
      };
    });
    await w.apply(trades, () => false);
    const raw = await redis.hget(marketKeys("btcfeed", "kraken:BTC-USD").candles, String(BASE_TS));
    assert.deepEqual(JSON.parse(raw!), {
      t: BASE_TS,
      o: "100.5",
      h: "101",
      l: "99.999",
      c: "100.4999",
      v: "12345678902234567890.800000000",
      n: 5,
    });
  });
});

Deno.test("candle volume stays exact past the fast accumulator's 2^53 limit", async () => {
  await withRedis(async (redis) => {
    const w = new TradeWriter(redis, { chunkSize: 1000 });
    const sizes = Array.from(
      { length: 250 },
      (_, i): string => i % 3 ? "999999.999999999" : "123456.7",
    );
    const trades = sizes.map((size, i): Trade => {
      const ts = BASE_TS + i;
      return {
        market: "kraken:BTC-USD",
        tradeId: String(i + 1),
        price: "100",
        size,
        side: "sell",
        ts,
        receivedAt: ts,
        id: entryIdFor(ts, String(i + 1)),
      };
    });
    await w.apply(trades, () => false);
    const raw = await redis.hget(marketKeys("btcfeed", "kraken:BTC-USD").candles, String(BASE_TS));
    assert.equal(JSON.parse(raw!).v, sizes.reduce(decimalAdd));
    assert.equal(JSON.parse(raw!).v, "176370362.799999834");
  });
});
