import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { Consolidator } from "../lib/consolidator.ts";
import { log } from "../lib/log.ts";

log.configure({ level: "error" });

const A = "binance:BTC-USDT", B = "coinbase:BTC-USD", C = "kraken:BTC-USD", D = "okx:BTC-USDT";
const T = 1_800_000_000_000;

function consolidator(prices: Record<string, string>, at = T): Consolidator {
  const c = new Consolidator([A, B, C, D], { freshMs: 60_000, maxDeviation: 0.05 });
  for (const [m, p] of Object.entries(prices)) c.observe(m, p, at);
  return c;
}

Deno.test("the consolidated market is the highest-priority one that is live and fresh", () => {
  const c = consolidator({ [B]: "117250", [C]: "117260", [A]: "117255" });
  assertEquals(c.choose(T + 1_000), A);
  c.setLive(A, false);
  assertEquals(c.choose(T + 1_000), B);
  c.setLive(A, true);
  assertEquals(c.choose(T + 1_000), A);
});

Deno.test("a market that has not traded within freshMs is passed over; when none qualifies the choice is kept", () => {
  const c = consolidator({ [A]: "117250" }, T);
  c.observe(B, "117251", T + 50_000);
  assertEquals(c.choose(T + 30_000), A);
  assertEquals(c.choose(T + 70_000), B, "A is 70 s old, B 20 s");
  assertEquals(c.choose(T + 200_000), B, "nothing fresh: keep the last choice");
});

Deno.test("one stray market among three is flagged and left out; the sound ones are not dragged with it", () => {
  const c = consolidator({ [A]: "140000", [B]: "117250", [C]: "117300" });
  assertEquals(c.choose(T), B);
  assertEquals([c.isOutlier(A), c.isOutlier(B), c.isOutlier(C)], [true, false, false]);
  assertEquals(c.outlierEvents, 1);
  c.choose(T + 500);
  assertEquals(c.outlierEvents, 1, "flagged once, not on every choice");
  c.observe(A, "117280", T + 1_000);
  assertEquals(c.choose(T + 1_000), A, "back in line: back in the price");
  assertEquals(c.isOutlier(A), false);
});

Deno.test("a deviation within maxDeviation is not an outlier", () => {
  const c = consolidator({ [A]: "121000", [B]: "117250", [C]: "117300" }); // about 3% above
  assertEquals(c.choose(T), A);
  assertEquals(c.isOutlier(A), false);
});

Deno.test("with fewer than three fresh markets nothing is flagged: there is no majority to judge by", () => {
  const c = consolidator({ [A]: "200000", [B]: "117250" });
  assertEquals(c.choose(T), A);
  assertEquals([c.isOutlier(A), c.isOutlier(B)], [false, false]);
});

Deno.test("a flagged market that goes stale loses its flag and is judged again when it trades", () => {
  const c = consolidator({ [A]: "140000", [B]: "117250", [C]: "117300", [D]: "117260" });
  c.choose(T);
  assertEquals(c.isOutlier(A), true);
  c.observe(B, "117250", T + 70_000);
  c.observe(C, "117300", T + 70_000);
  c.observe(D, "117260", T + 70_000);
  assertEquals(c.choose(T + 70_000), B);
  assertEquals(c.isOutlier(A), false, "stale, so no longer judged");
  c.observe(A, "140000", T + 71_000);
  assertEquals(c.choose(T + 71_000), B);
  assertEquals(c.isOutlier(A), true);
});
