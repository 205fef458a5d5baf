import assert from "node:assert/strict";
import { Backoff, DEFAULT_BACKOFF_OPTIONS, MIN_BACKOFF_DELAY_MS } from "../../lib/feed/backoff.ts";
import { seededRandom } from "../support/rng.ts";

Deno.test("backoff delays stay within ±30% of the doubling base and never exceed the cap", () => {
  const rnd = seededRandom(7);
  const b = new Backoff({}, rnd);
  const { initialMs, maxMs, factor, jitter } = DEFAULT_BACKOFF_OPTIONS;
  for (let i = 0; i < 40; i++) {
    const base = Math.min(maxMs, initialMs * factor ** i);
    const d = b.next();
    assert.ok(d >= Math.floor(base * (1 - jitter)), `attempt ${i}: ${d} below ${base}`);
    assert.ok(d <= Math.min(maxMs, Math.ceil(base * (1 + jitter))), `attempt ${i}: ${d}`);
  }
});

Deno.test("backoff jitter reaches both bounds: lowest and highest random values", () => {
  assert.equal(new Backoff({}, () => 0).next(), 350);
  assert.equal(new Backoff({}, () => 0.999999999).next(), 650);
  assert.equal(new Backoff({}, () => 0.5).next(), 500);
});

Deno.test("backoff is capped at maxMs even with maximal jitter after a long outage", () => {
  const b = new Backoff({}, () => 0.999999);
  let d = 0;
  for (let i = 0; i < 1000; i++) d = b.next();
  assert.equal(d, DEFAULT_BACKOFF_OPTIONS.maxMs);
  assert.ok(Number.isFinite(d));
});

Deno.test("backoff is never zero, even with zero or nonsense options and random values", () => {
  for (const opts of [{ initialMs: 0 }, { initialMs: -5, maxMs: 0 }, { initialMs: NaN }]) {
    for (const r of [0, NaN, -1, 2]) {
      const b = new Backoff({ ...opts, jitter: 1 }, () => r);
      for (let i = 0; i < 5; i++) assert.ok(b.next() >= MIN_BACKOFF_DELAY_MS);
    }
  }
});

Deno.test("a connection that stayed up for stableAfterMs resets the backoff; a flapping one does not", () => {
  const b = new Backoff({}, () => 0.5);
  b.next();
  b.next();
  b.next();
  assert.equal(b.attempts, 3);
  assert.equal(b.connectionEnded(1_000, 1_000 + 29_999), false);
  assert.equal(b.next(), 4_000);
  assert.equal(b.connectionEnded(1_000, 1_000 + 30_000), true);
  assert.equal(b.next(), 500);
});
