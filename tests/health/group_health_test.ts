/**
 * Health and the dashboard in a feeder group: a standby that journals while another feeder
 * writes passes; a group without a writer, or a feeder that cannot see its group, warns; the
 * writer passes; the dashboard names the role, the writer and every live feeder.
 */

import assert from "node:assert/strict";
import { report } from "../../lib/health/report.ts";
import { render } from "../../lib/monitor/render.ts";
import type { GroupStatus, StreamStatus } from "../../lib/runtime/status.ts";
import { NOW, status } from "./_status_fixture.ts";

function group(over: Partial<GroupStatus> = {}): GroupStatus {
  return {
    name: "g",
    feederId: "host-b:42",
    role: "standby",
    epoch: null,
    writer: { id: "host-a:7", epoch: 12 },
    leaseMs: 5000,
    acquisitions: 0,
    members: [
      {
        id: "host-a:7",
        role: "writer",
        epoch: 12,
        at: NOW - 300,
        ageMs: 300,
        live: ["kraken:BTC-USD"],
        pending: 0,
      },
      {
        id: "host-b:42",
        role: "standby",
        epoch: null,
        at: NOW - 100,
        ageMs: 100,
        live: ["kraken:BTC-USD"],
        pending: 3,
      },
    ],
    viewAt: NOW - 500,
    lastError: null,
    ...over,
  };
}

function verdict(s: StreamStatus) {
  const r = report({
    status: s,
    dataDir: "/d",
    nowMs: NOW,
    probes: {
      primary: { ok: true, latencyMs: 0.2, error: null, url: "redis://p" },
      failover: null,
    },
    marketAges: Object.fromEntries(
      Object.keys(s.markets).map((m) => [m, { ageSeconds: 1, source: "primary" as const }]),
    ),
    outbox: null,
    maxAgeSeconds: 60,
    heartbeatMaxAgeSeconds: 10,
    lock: "held",
  });
  return {
    status: r.status,
    role: r.document.checks["group:role"]?.[0],
    mode: r.document.checks["stream:mode"]?.[0],
  };
}

Deno.test("a journaling standby passes while another feeder writes; the writer passes", () => {
  const standby = verdict(status({ mode: "standby", group: group() }));
  assert.equal(standby.role?.status, "pass");
  assert.equal(standby.mode?.status, "pass");
  assert.match(
    standby.role!.output!,
    /standby in group g: host-a:7 writes \(epoch 12\); journaling/,
  );
  assert.equal(standby.status, "pass");
  const writer = verdict(
    status({ group: group({ role: "writer", epoch: 13, writer: { id: "host-b:42", epoch: 13 } }) }),
  );
  assert.equal(writer.status, "pass");
  assert.match(writer.role!.output!, /writer of group g \(epoch 13\), 2 feeder/);
});

Deno.test("no writer in the group, or a group view gone stale, warns", () => {
  const none = verdict(status({ mode: "standby", group: group({ writer: null }) }));
  assert.equal(none.role?.status, "warn");
  assert.equal(none.status, "warn");
  const stale = verdict(
    status({
      mode: "standby",
      group: group({ viewAt: NOW - 30_000, lastError: "group view: timeout" }),
    }),
  );
  assert.equal(stale.role?.status, "warn");
  assert.match(stale.role!.output!, /group view 30 s old \(group view: timeout\)/);
});

Deno.test("the dashboard shows the role, the writer and each live feeder", () => {
  const out = render(
    { status: status({ mode: "standby", group: group() }), nowMs: NOW, dataDir: "/d", error: null },
    { color: false, width: 120, height: 40 },
  );
  assert.match(
    out,
    /group g {2}STANDBY host-b:42 {2}host-a:7 writes \(epoch 12\) {2}lease 5000 ms/,
  );
  assert.match(out, /feeders: host-a:7\* 1\/\d+ live · host-b:42 1\/\d+ live/);
});
