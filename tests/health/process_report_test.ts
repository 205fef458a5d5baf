/** The verdicts about the process itself: lock, clean stop, restarts, a corrupt store, drops. */

import assert from "node:assert/strict";
import { report } from "../../lib/health/report.ts";
import { DEFAULT_HEALTH_OPTIONS, type HealthInput } from "../../lib/health/types.ts";
import { RESTART_THRESHOLDS } from "../../lib/health/types.ts";
import type { StreamStatus } from "../../lib/runtime/status.ts";
import { NOW, status } from "./_status_fixture.ts";

function input(over: Partial<HealthInput> = {}, s: StreamStatus | null = status()): HealthInput {
  return {
    status: s,
    dataDir: "/var/lib/btcfeed",
    nowMs: NOW,
    probes: { primary: { ok: true, latencyMs: 0.5, error: null }, failover: null },
    marketAges: {},
    outbox: null,
    maxAgeSeconds: DEFAULT_HEALTH_OPTIONS.maxAgeSeconds,
    heartbeatMaxAgeSeconds: DEFAULT_HEALTH_OPTIONS.heartbeatMaxAgeSeconds,
    ...over,
  };
}

Deno.test("a free stream lock fails at once, even with a fresh heartbeat; a held or absent one leaves it to the heartbeat", () => {
  assert.equal(report(input({ lock: "held" })).status, "pass");
  assert.equal(report(input({ lock: "absent" })).status, "pass");
  const free = report(input({ lock: "free" }));
  assert.equal(free.exitCode, 2);
  assert.match(
    free.document.output!,
    /^stream not running: pid \d+ exited \(its stream lock is free\)/,
  );
  assert.equal(free.document.mode, null);
});

Deno.test("a status marked stopped fails and says when and why", () => {
  const r = report(
    input({ lock: "free" }, status({ stopped: { at: NOW - 300, reason: "stopped by SIGTERM" } })),
  );
  assert.equal(r.exitCode, 2);
  assert.match(r.document.output!, /stopped at 2025-01-15T11:59:59.700Z \(stopped by SIGTERM\)/);
});

Deno.test("starts in the last 10 minutes: warn from the warn threshold, fail from the fail threshold; older ones do not count", () => {
  const starts = (n: number) => Array.from({ length: n }, (_, i) => NOW - i * 60_000);
  const verdict = (n: number, extra: number[] = []) =>
    report(input({ recentStarts: [...extra, ...starts(n)] })).document.checks["stream:restarts"][0];
  assert.equal(verdict(RESTART_THRESHOLDS.warn - 1).status, "pass");
  assert.equal(verdict(RESTART_THRESHOLDS.warn).status, "warn");
  assert.equal(verdict(RESTART_THRESHOLDS.fail - 1).status, "warn");
  assert.equal(verdict(RESTART_THRESHOLDS.fail).status, "fail");
  assert.equal(verdict(1, [NOW - 11 * 60_000, NOW - 30 * 60_000]).observedValue, 1);
});

Deno.test("a store moved aside as corrupt fails until salvaged, naming the file and the command", () => {
  const r = report(input({ storeSetAside: ["outbox.sqlite.corrupt-20250115T115500Z"] }));
  assert.equal(r.exitCode, 2);
  assert.match(
    r.document.output!,
    /store was corrupt, moved aside to \/var\/lib\/btcfeed\/outbox\.sqlite\.corrupt-20250115T115500Z; run btcfeed sync --recover/,
  );
  assert.equal(report(input({ storeSetAside: [] })).status, "pass");
});

Deno.test("drops of an earlier run warn for 10 minutes after a restart, with both counts", () => {
  const base = status();
  const restarted = (startedAgoMs: number, dropped = 0) =>
    report(input({}, {
      ...base,
      startedAt: NOW - startedAgoMs,
      droppedTotal: 120 + dropped,
      counters: { ...base.counters, dropped },
    })).document.checks["stream:dropped"][0];
  const recent = restarted(60_000);
  assert.equal(recent.status, "warn");
  assert.match(recent.output, /earlier runs dropped 120/);
  assert.equal(restarted(11 * 60_000).status, "pass");
  assert.match(restarted(11 * 60_000).output, /120 in total/);
  const now = restarted(11 * 60_000, 5);
  assert.equal(now.status, "warn");
  assert.match(now.output, /5 trades dropped since start, 125 in total/);
});
