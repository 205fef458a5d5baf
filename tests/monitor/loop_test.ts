import assert from "node:assert/strict";
import { ENTER_SCREEN, LEAVE_SCREEN, runMonitor } from "../../lib/monitor/loop.ts";
import type { StreamStatus } from "../../lib/runtime/status.ts";
import { NOW, status } from "../health/_status_fixture.ts";

/** A loop over an in-memory status that aborts itself after `frames` frames. */
function harness(frames: number, read: (n: number) => StreamStatus | null, tty = true) {
  const controller = new AbortController();
  const out: string[] = [];
  let reads = 0;
  const done = runMonitor({
    dataDir: "/data",
    signal: controller.signal,
    tty,
    intervalMs: 1,
    now: () => NOW,
    size: () => ({ columns: 80, rows: 24 }),
    write: (t) => out.push(t),
    read: () => {
      if (++reads >= frames) controller.abort();
      return read(reads);
    },
  });
  return { done, out };
}

Deno.test("on a terminal the dashboard uses the alternate screen and restores it on abort", async () => {
  const { done, out } = harness(3, (n) => status({ mode: n < 3 ? "primary" : "failover" }));
  await done;
  const all = out.join("");
  assert.ok(all.startsWith(ENTER_SCREEN));
  assert.ok(all.endsWith(LEAVE_SCREEN));
  assert.equal(all.split("\x1b[H").length - 1, 3, "three frames, each from the top");
  assert.match(all, /PRIMARY/);
  assert.match(out.at(-2)!, /FAILOVER/, "the last frame shows the latest status");
});

Deno.test("the terminal is restored even when drawing fails unexpectedly", async () => {
  const out: string[] = [];
  let calls = 0;
  await assert.rejects(
    runMonitor({
      dataDir: "/data",
      signal: new AbortController().signal,
      tty: true,
      intervalMs: 1,
      size: () => {
        if (++calls === 2) throw new Error("console gone");
        return { columns: 80, rows: 24 };
      },
      write: (t) => out.push(t),
      read: () => status(),
    }),
    /console gone/,
  );
  assert.equal(out.at(-1), LEAVE_SCREEN);
});

Deno.test("an unreadable or malformed status is shown on screen, never ends the loop", async () => {
  const bad: unknown[] = [
    () => {
      throw new Error("Is a directory (os error 21)");
    },
    {},
    { heartbeatAt: NOW, markets: 7 },
    null,
    status(),
  ];
  const { done, out } = harness(bad.length, (n) => {
    const b = bad[n - 1];
    return (typeof b === "function" ? b() : b) as StreamStatus | null;
  });
  await done;
  const frames = out.join("").split("\x1b[H").slice(1);
  assert.equal(frames.length, 5);
  assert.match(frames[0], /cannot read the status: Is a directory/);
  assert.match(frames[1], /No stream running/);
  assert.match(frames[2], /malformed status/);
  assert.match(frames[3], /no status in \/data/);
  assert.match(frames[4], /PRIMARY/);
});

Deno.test("off a terminal frames are plain text, one after another, without escape codes", async () => {
  const { done, out } = harness(2, () => status(), false);
  await done;
  const all = out.join("");
  assert.ok(!all.includes("\x1b"), JSON.stringify(all.slice(0, 40)));
  assert.equal(all.match(/^btcfeed {2}PRIMARY/gm)?.length, 2);
});

Deno.test("--once draws exactly one frame and returns without touching the screen mode", async () => {
  const out: string[] = [];
  await runMonitor({
    dataDir: "/data",
    signal: new AbortController().signal,
    tty: true,
    once: true,
    now: () => NOW,
    size: () => ({ columns: 80, rows: 24 }),
    write: (t) => out.push(t),
    read: () => status(),
  });
  assert.equal(out.length, 1);
  assert.ok(!out[0].includes(ENTER_SCREEN) && !out[0].includes(LEAVE_SCREEN));
});
