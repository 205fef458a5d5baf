import assert from "node:assert/strict";
import { FailureLog, recoveredText, seconds, stillDownText } from "../lib/failure_log.ts";

Deno.test("1,000 failed attempts over 10 minutes log the first in full, one line a minute, and one recovery", () => {
  let now = 1_000_000;
  const failures = new FailureLog({}, () => now);
  const verdicts = [];
  for (let i = 0; i < 1_000; i++) {
    verdicts.push(failures.failed("binance:BTC-USDT"));
    now += 600; // 1,000 attempts × 600 ms = 10 minutes
  }
  const logged = verdicts.filter((v) => v.log !== "quiet");
  assert.equal(logged[0].log, "first");
  assert.equal(logged.filter((v) => v.log === "first").length, 1);
  const repeats = logged.filter((v) => v.log === "repeat");
  assert.equal(repeats.length, 9, "one a minute after the first, over ten minutes");
  assert.deepEqual(repeats.map((v) => v.attempts), [101, 201, 301, 401, 501, 601, 701, 801, 901]);
  assert.equal(verdicts.at(-1)!.attempts, 1_000, "every attempt is counted, logged or not");
  assert.deepEqual(failures.recovered("binance:BTC-USDT"), { attempts: 1_000, downMs: 600_000 });
  assert.equal(failures.recovered("binance:BTC-USDT"), null, "one recovery per outage");
  assert.equal(failures.failed("binance:BTC-USDT").log, "first", "the next outage starts afresh");
});

Deno.test("keys are condensed independently, and the interval is injectable", () => {
  let now = 0;
  const failures = new FailureLog({ intervalMs: 1_000 }, () => now);
  assert.equal(failures.failed("a").log, "first");
  assert.equal(failures.failed("b").log, "first", "another key's first failure is news");
  now = 999;
  assert.equal(failures.failed("a").log, "quiet");
  now = 1_000;
  assert.deepEqual(failures.failed("a"), { log: "repeat", attempts: 3, downMs: 1_000 });
  assert.equal(failures.failed("b").log, "repeat");
  now = 1_500;
  assert.equal(failures.failed("a").log, "quiet", "the interval counts from the last line logged");
  assert.equal(failures.recovered("never-down"), null);
});

Deno.test("the condensed lines read as sentences with the attempt count, cause and next try", () => {
  assert.equal(
    stillDownText("binance:BTC-USDT", 14, "getaddrinfo ENOTFOUND stream.binance.com", 30_000),
    "binance:BTC-USDT still unreachable after 14 attempts: getaddrinfo ENOTFOUND " +
      "stream.binance.com; next try in 30 s",
  );
  assert.equal(
    recoveredText("binance:BTC-USDT", { attempts: 14, downMs: 412_300 }),
    "binance:BTC-USDT reachable again after 14 attempts / 412 s down",
  );
  assert.equal(
    recoveredText("primary redis", { attempts: 1, downMs: 250 }),
    "primary redis reachable again after 1 attempt / 0.25 s down",
  );
  assert.deepEqual([seconds(2_500), seconds(9_999), seconds(27_431)], ["2.5 s", "10 s", "27 s"]);
});
