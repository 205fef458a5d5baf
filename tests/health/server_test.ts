import assert from "node:assert/strict";
import { startHttpServer } from "../../lib/health/server.ts";
import { report } from "../../lib/health/report.ts";
import { inputFromStatus } from "../../lib/health/from_status.ts";
import { StreamMetrics } from "../../lib/health/metrics.ts";
import type { StreamStatus } from "../../lib/runtime/status.ts";
import { log } from "../../lib/log.ts";
import { NOW, status } from "./_status_fixture.ts";

/** A server over a status the test controls, as `stream` wires it. */
function serve(get: () => StreamStatus) {
  const metrics = new StreamMetrics(get, { now: () => NOW });
  const server = startHttpServer({ hostname: "127.0.0.1", port: 0 }, {
    health: () => report(inputFromStatus(get(), NOW)).document,
    metrics: () => metrics.metrics(),
    metricsContentType: metrics.contentType,
  });
  const url = (path: string) => `http://127.0.0.1:${server.port}${path}`;
  return { server, url };
}

Deno.test("GET /health is 200 for pass and warn, 503 for fail, as application/health+json", async () => {
  let s = status();
  const { server, url } = serve(() => s);
  try {
    assert.ok(server.port > 0);
    let res = await fetch(url("/health"));
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-type"), "application/health+json");
    assert.equal((await res.json()).status, "pass");

    s = status({ mode: "failover", forced: true });
    res = await fetch(url("/health"));
    assert.equal(res.status, 200);
    const warn = await res.json();
    assert.equal(warn.status, "warn");
    assert.equal(warn.mode, "failover");
    assert.equal(warn.forced, true);
    assert.ok(warn.checks["redis-primary:responseTime"]);

    s = status();
    s.outbox = {
      depth: 10,
      bytes: 100,
      maxTrades: 10,
      full: true,
      lastError: null,
      deadLetters: 0,
    };
    res = await fetch(url("/health"));
    assert.equal(res.status, 503);
    assert.equal((await res.json()).status, "fail");
  } finally {
    await server.close();
  }
});

Deno.test("GET /metrics serves Prometheus text reflecting the current status", async () => {
  let s = status();
  const { server, url } = serve(() => s);
  try {
    let res = await fetch(url("/metrics"));
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type")!, /^text\/plain; version=0\.0\.4/);
    assert.match(await res.text(), /^btcfeed_mode\{mode="primary"\} 1$/m);
    s = status({ mode: "syncing", sync: { total: 9, done: 4 } });
    res = await fetch(url("/metrics?x=1"));
    const body = await res.text();
    assert.match(body, /^btcfeed_mode\{mode="syncing"\} 1$/m);
    assert.match(body, /^btcfeed_sync_done 4$/m);
  } finally {
    await server.close();
  }
});

Deno.test("other paths are 404 and other methods 405, and they change nothing", async () => {
  const s = status();
  const before = JSON.stringify(s);
  const { server, url } = serve(() => s);
  try {
    for (const path of ["/", "/health/", "/healthz", "/metrics/x", "/control"]) {
      const res = await fetch(url(path));
      assert.equal(res.status, 404, path);
      await res.body?.cancel();
    }
    for (const method of ["POST", "PUT", "DELETE", "PATCH"]) {
      for (const path of ["/health", "/metrics"]) {
        const res = await fetch(url(path), { method, body: method === "DELETE" ? null : "{}" });
        assert.equal(res.status, 405, `${method} ${path}`);
        assert.equal(res.headers.get("allow"), "GET, HEAD");
        await res.body?.cancel();
      }
    }
    const head = await fetch(url("/health"), { method: "HEAD" });
    assert.equal(head.status, 200);
    assert.equal(await head.text(), "");
    assert.equal(JSON.stringify(s), before);
  } finally {
    await server.close();
  }
});

Deno.test("a failing handler answers 500 and the server keeps serving", async () => {
  const lines: string[] = [];
  log.configure({ write: (l) => lines.push(l), format: "json" });
  let broken = true;
  const server = startHttpServer({ hostname: "127.0.0.1", port: 0 }, {
    health: () => {
      if (broken) throw new Error("status getter broke");
      return report(inputFromStatus(status(), NOW)).document;
    },
    metrics: () => Promise.reject(new Error("registry broke")),
  });
  try {
    const base = `http://127.0.0.1:${server.port}`;
    let res = await fetch(`${base}/health`);
    assert.equal(res.status, 500);
    await res.body?.cancel();
    res = await fetch(`${base}/metrics`);
    assert.equal(res.status, 500);
    await res.body?.cancel();
    broken = false;
    res = await fetch(`${base}/health`);
    assert.equal(res.status, 200);
    await res.body?.cancel();
    assert.ok(lines.some((l) => l.includes("status getter broke")));
  } finally {
    log.configure({ write: (l) => console.error(l) });
    await server.close();
  }
});

Deno.test("close() stops listening and is idempotent; a taken port is a clear error", async () => {
  const { server, url } = serve(() => status());
  const res = await fetch(url("/health"));
  await res.body?.cancel();
  const other = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    assert.throws(
      () =>
        startHttpServer({ hostname: "127.0.0.1", port: (other.addr as Deno.NetAddr).port }, {
          health: () => ({}) as never,
          metrics: () => "",
        }),
      /cannot serve HTTP on 127\.0\.0\.1:\d+/,
    );
  } finally {
    other.close();
  }
  await server.close();
  await server.close();
  await assert.rejects(Deno.connect({ hostname: "127.0.0.1", port: server.port }));
});
