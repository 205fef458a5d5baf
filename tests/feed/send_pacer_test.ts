import assert from "node:assert/strict";
import { SendPacer } from "../../lib/feed/_send_pacer.ts";
import type { Clock } from "../../lib/time.ts";

/** A clock whose timers fire only when the test advances it. */
class StepClock implements Clock {
  t = 1_000_000;
  #timers = new Map<number, { at: number; fn: () => void }>();
  #next = 1;
  now = () => this.t;
  setTimeout = (fn: () => void, ms: number): unknown => {
    const id = this.#next++;
    this.#timers.set(id, { at: this.t + ms, fn });
    return id;
  };
  clearTimeout = (h: unknown) => void this.#timers.delete(h as number);
  advance(ms: number) {
    const end = this.t + ms;
    for (;;) {
      const due = [...this.#timers.entries()].filter(([, x]) => x.at <= end)
        .sort((a, b) => a[1].at - b[1].at)[0];
      if (!due) break;
      this.#timers.delete(due[0]);
      this.t = due[1].at;
      due[1].fn();
    }
    this.t = end;
  }
}

const LIMIT = { messages: 5, windowMs: 1_000, source: "test" };

function recorder(clock: StepClock) {
  const sent: { at: number; what: string }[] = [];
  return {
    sent,
    socket: {
      text: (t: string) => (sent.push({ at: clock.t, what: t }), true),
      ping: () => (sent.push({ at: clock.t, what: "PING" }), true),
      pong: (
        d: Uint8Array,
      ) => (sent.push({ at: clock.t, what: `PONG ${new TextDecoder().decode(d)}` }), true),
    },
  };
}

function maxInWindow(times: number[], windowMs: number): number {
  let best = 0;
  for (let i = 0; i < times.length; i++) {
    best = Math.max(best, times.filter((t) => t >= times[i] && t < times[i] + windowMs).length);
  }
  return best;
}

Deno.test("the pacer sends at most 5 in any 1.1 s, in order, dropping nothing", () => {
  const clock = new StepClock();
  const r = recorder(clock);
  const p = new SendPacer(LIMIT, r.socket, clock);
  for (let i = 0; i < 23; i++) p.text(`m${i}`);
  assert.equal(r.sent.length, 5, "the first five at once");
  clock.advance(10_000);
  assert.deepEqual(r.sent.map((s) => s.what), Array.from({ length: 23 }, (_, i) => `m${i}`));
  assert.ok(maxInWindow(r.sent.map((s) => s.at), 1_100) <= 5);
  assert.equal(p.queued, 0);
});

Deno.test("a pong jumps the queue and a newer ping's pong replaces one still waiting", () => {
  const clock = new StepClock();
  const r = recorder(clock);
  const p = new SendPacer(LIMIT, r.socket, clock);
  for (let i = 0; i < 12; i++) p.text(`m${i}`);
  p.pong(new TextEncoder().encode("a"));
  p.pong(new TextEncoder().encode("b"));
  assert.equal(p.pongsReplaced, 1);
  clock.advance(1_100);
  assert.equal(r.sent[5].what, "PONG b", "the pong goes first once the window frees");
  clock.advance(10_000);
  assert.equal(r.sent.filter((s) => s.what.startsWith("PONG")).length, 1);
  assert.equal(r.sent.length, 13, "every text went out");
  assert.ok(p.maxWaitMs <= 3 * 1_100);
});

Deno.test("without a limit everything goes at once; after stop nothing goes", () => {
  const clock = new StepClock();
  const r = recorder(clock);
  const free = new SendPacer(null, r.socket, clock);
  for (let i = 0; i < 50; i++) free.text("x");
  assert.equal(r.sent.length, 50);
  const paced = new SendPacer(LIMIT, r.socket, clock);
  for (let i = 0; i < 10; i++) paced.text("y");
  paced.stop();
  clock.advance(5_000);
  assert.equal(r.sent.length, 55);
  paced.ping();
  assert.equal(r.sent.length, 55);
});
