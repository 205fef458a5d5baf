import assert from "node:assert/strict";
import { RestBudget } from "../../lib/feed/rest_budget.ts";
import { classifyRestReply, retryAfterAt } from "../../lib/feed/rest_reply.ts";
import { ADAPTERS } from "../../lib/exchanges/registry.ts";

const BINANCE = ADAPTERS.binance.rest!;
const KRAKEN = ADAPTERS.kraken.rest!;

Deno.test("the budget never spends more than 75 % of the published allowance in any window, and waits out a block", async () => {
  const b = new RestBudget("x", { units: 20, windowMs: 1_000, pageCost: 1, source: "test" });
  const started = Date.now();
  const at: number[] = [];
  while (Date.now() - started < 2_500) {
    assert.ok(await b.acquire(1));
    at.push(Date.now());
  }
  for (const t of at) {
    const inWindow = at.filter((u) => u >= t && u < t + 1_000).length;
    assert.ok(inWindow <= 15, `${inWindow} requests in the second from ${t - started} ms`);
  }
  assert.ok(at.length >= 25, `it kept spending at its steady rate (${at.length})`);
  const until = Date.now() + 400;
  b.block("banned", until);
  assert.equal(b.status().state, "banned");
  assert.ok(await b.acquire(1));
  assert.ok(Date.now() >= until, "nothing spent before the ban ended");
  assert.equal(b.status().state, "ok");
  assert.equal(b.status().bans, 1);
});

Deno.test("Retry-After is read as seconds or an HTTP date; 429, 418, 5xx, 451 and Kraken bodies are classified once", () => {
  assert.equal(retryAfterAt("3", 1_000), 4_000);
  assert.equal(retryAfterAt(new Date(10_000).toUTCString(), 1_000), 10_000);
  assert.equal(retryAfterAt("soon", 1_000), null);
  const m = { exchange: "binance", base: "BTC", quote: "USDT" };
  const reply = (status: number, body = "[]", retryAfter: string | null = null) =>
    classifyRestReply(BINANCE, { status, retryAfter, body, where: "x" }, m, 0).kind;
  assert.equal(reply(429, "{}", "1"), "rate_limited");
  assert.equal(reply(418, "{}", "120"), "banned");
  assert.equal(reply(503), "transient");
  assert.equal(reply(451), "permanent");
  assert.equal(reply(200), "page");
  const k = { exchange: "kraken", base: "BTC", quote: "USD" };
  const kraken = (err: string) =>
    classifyRestReply(
      KRAKEN,
      { status: 200, retryAfter: null, body: `{"error":["${err}"]}`, where: "x" },
      k,
      0,
    ).kind;
  assert.equal(kraken("EGeneral:Too many requests"), "rate_limited");
  assert.equal(kraken("EAPI:Rate limit exceeded"), "rate_limited");
  assert.equal(kraken("EService:Unavailable"), "transient");
  assert.equal(kraken("EQuery:Unknown asset pair"), "permanent");
});
