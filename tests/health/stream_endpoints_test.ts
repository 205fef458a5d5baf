/** /health, /metrics and `btcfeed monitor` against a real running stream. */

import { deepStrictEqual as assertEquals, match, ok } from "node:assert/strict";
import { Rig } from "../support/rig.ts";
import { freePort } from "../support/redis_server.ts";
import { BTCFEED_PERMISSIONS, waitFor } from "../support/cli.ts";
import { fileURLToPath } from "node:url";

async function get(url: string, init?: RequestInit) {
  const res = await fetch(url, init);
  return {
    status: res.status,
    type: res.headers.get("content-type") ?? "",
    body: await res.text(),
  };
}

Deno.test("a running stream serves /health (200 pass, 200 warn on failover) and /metrics with per-market labels", async () => {
  const port = await freePort();
  const rig = await Rig.start({
    trades: 4_000,
    ratePerSec: 500,
    streamArgs: ["--http", `127.0.0.1:${port}`],
  });
  try {
    await rig.startStream().waitForLine(/stream started/);
    await waitFor(async () => (await rig.primaryCount()) > 200, 20_000, "trades");
    const base = `http://127.0.0.1:${port}`;

    const health = await get(`${base}/health`);
    assertEquals(health.status, 200);
    match(health.type, /application\/health\+json/);
    const doc = JSON.parse(health.body);
    assertEquals([doc.status, doc.mode, doc.forced], ["pass", "primary", false]);
    for (const key of ["redis-primary:responseTime", "outbox:depth", "feed-binance:BTC-USDT:age"]) {
      ok(Array.isArray(doc.checks[key]), `check ${key}`);
      for (const field of ["status", "observedValue", "time", "output"]) {
        ok(field in doc.checks[key][0], `${key}.${field}`);
      }
    }

    const metrics = await get(`${base}/metrics`);
    assertEquals(metrics.status, 200);
    match(metrics.type, /text\/plain/);
    match(metrics.body, /btcfeed_trades_total\{market="binance:BTC-USDT"\} [1-9]/);
    match(metrics.body, /btcfeed_mode\{mode="primary"\} 1/);
    match(metrics.body, /btcfeed_writes_total\{target="primary"\} [1-9]/);
    match(metrics.body, /btcfeed_redis_latency_seconds_bucket\{le="[^"]+",target="primary"\}/);
    match(metrics.body, /btcfeed_market_quarantined_total|btcfeed_outbox_depth 0/);

    assertEquals((await get(`${base}/health`, { method: "POST" })).status, 405);
    assertEquals((await get(`${base}/nope`)).status, 404);

    await rig.proxy.mode("refuse");
    await waitFor(
      async () => JSON.parse((await get(`${base}/health`)).body).mode === "failover",
      5_000,
      "failover",
    );
    const warn = await get(`${base}/health`);
    assertEquals([warn.status, JSON.parse(warn.body).status], [200, "warn"]);
    match((await get(`${base}/metrics`)).body, /btcfeed_failovers_total 1/);
    await rig.proxy.mode("pass");
  } finally {
    await rig.stop();
  }
});

Deno.test("btcfeed monitor shows a running stream's markets and mode in an 80x24 terminal", async () => {
  const rig = await Rig.start({ trades: 6_000, ratePerSec: 300 });
  const session = `btcfeed-test-${Deno.pid}`;
  const main = fileURLToPath(new URL("../../main.ts", import.meta.url));
  const tmux = (...args: string[]) =>
    new Deno.Command("tmux", { args, stdout: "piped", stderr: "piped" }).output();
  try {
    await rig.startStream().waitForLine(/stream started/);
    await waitFor(async () => (await rig.primaryCount()) > 100, 20_000, "trades");
    const cmd = [
      Deno.execPath(),
      "run",
      ...BTCFEED_PERMISSIONS,
      main,
      "monitor",
      "--data-dir",
      rig.dataDir,
    ].join(" ");
    const started = await tmux("new-session", "-d", "-s", session, "-x", "80", "-y", "24", cmd);
    assertEquals(started.code, 0, new TextDecoder().decode(started.stderr));
    let last = "";
    const screen = await waitFor(
      async () => {
        last = new TextDecoder().decode((await tmux("capture-pane", "-p", "-t", session)).stdout);
        return /binance:BTC-USDT/.test(last) && /primary/i.test(last) ? last : null;
      },
      15_000,
      "monitor screen",
    ).catch((e) => {
      throw new Error(`${e.message}; screen:\n${last}`);
    });
    ok(screen.split("\n").every((l) => l.length <= 80), screen);
    match(screen, /\d+\.\d+/); // a price
    await tmux("send-keys", "-t", session, "C-c");
    await waitFor(
      async () => (await tmux("has-session", "-t", session)).code !== 0,
      5_000,
      "monitor exit",
    );
  } finally {
    await tmux("kill-session", "-t", session);
    await rig.stop();
  }
});
