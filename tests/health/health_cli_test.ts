/**
 * `btcfeed health` end to end: the real program as a subprocess, a status file written by the
 * test, real redis-server processes (killed and paused for the fault cases).
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Redis } from "ioredis";
import { type RedisServer, startRedis } from "../support/redis_server.ts";
import { marketKeys } from "../../lib/redis/keys.ts";
import { writeStatus } from "../../lib/runtime/status.ts";
import type { StreamStatus } from "../../lib/runtime/status.ts";
import { Journal } from "../../lib/store/journal.ts";
import { entryIdFor } from "../../lib/trade.ts";
import { status } from "./_status_fixture.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const NAGIOS_LINE = /^BTCFEED (OK|WARNING|CRITICAL|UNKNOWN) - [^|\n]*( \| [^|\n]*)?$/;
const MARKETS = ["binance:BTC-USDT", "coinbase:BTC-USD", "kraken:BTC-USD"];

interface Run {
  code: number;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Runs `main.ts health` with a clean environment (no BTCFEED_* from the caller). */
async function health(args: string[]): Promise<Run> {
  const env: Record<string, string> = { NO_COLOR: "1" };
  for (const k of ["PATH", "HOME", "DENO_DIR", "XDG_CACHE_HOME"]) {
    const v = Deno.env.get(k);
    if (v) env[k] = v;
  }
  const started = performance.now();
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--cached-only",
      "--allow-all",
      "--quiet",
      join(ROOT, "main.ts"),
      "health",
      ...args,
    ],
    cwd: ROOT,
    env,
    clearEnv: true,
    stdin: "null",
  }).output();
  const dec = new TextDecoder();
  return {
    code: out.code,
    stdout: dec.decode(out.stdout),
    stderr: dec.decode(out.stderr),
    ms: performance.now() - started,
  };
}

/** Writes each market's `last` hash with a trade `ageMs` old, as the apply script would. */
async function writeLast(server: RedisServer, ageMs: number, prefix = "btcfeed") {
  const redis = new Redis(server.url, { lazyConnect: true, maxRetriesPerRequest: 0 });
  try {
    await redis.connect();
    const ts = Date.now() - ageMs;
    for (const m of MARKETS) {
      await redis.hset(marketKeys(prefix, m).last, {
        market: m,
        price: "117250.10",
        ts: String(ts),
        received_at: String(ts + 30),
      });
    }
  } finally {
    redis.disconnect();
  }
}

async function withSetup(
  fn: (ctx: { dir: string; primary: RedisServer; failover: RedisServer }) => Promise<void>,
) {
  const dir = await Deno.makeTempDir({ prefix: "btcfeed-health-" });
  const [primary, failover] = await Promise.all([startRedis(), startRedis()]);
  try {
    await fn({ dir, primary, failover });
  } finally {
    await Promise.all([primary.stop(), failover.stop()]);
    await Deno.remove(dir, { recursive: true });
  }
}

function live(over: Partial<StreamStatus> = {}): StreamStatus {
  return status(over, Date.now());
}

function targets(ctx: { dir: string; primary: RedisServer; failover: RedisServer }) {
  return ["--data-dir", ctx.dir, "--primary", ctx.primary.url, "--failover", ctx.failover.url];
}

function firstLine(run: Run): string {
  return run.stdout.split("\n")[0];
}

Deno.test("health exits 0 with an OK line for a running stream on the primary with fresh trades", async () => {
  await withSetup(async (ctx) => {
    writeStatus(ctx.dir, live());
    await writeLast(ctx.primary, 2_000);
    const run = await health(targets(ctx));
    assert.equal(run.code, 0, run.stdout + run.stderr);
    assert.match(firstLine(run), NAGIOS_LINE);
    assert.match(firstLine(run), /^BTCFEED OK - primary mode, 3 markets fresh/);
    assert.match(run.stdout, /feed-kraken:BTC-USD:age/, "the table follows");
    assert.ok(!run.stdout.includes("\x1b["), "no colour codes when piped");

    const json = await health([...targets(ctx), "--json"]);
    assert.equal(json.code, 0);
    const doc = JSON.parse(json.stdout);
    assert.equal(doc.status, "pass");
    assert.equal(doc.mode, "primary");
    assert.equal(doc.forced, false);
    assert.equal(typeof doc.heartbeatAge, "number");
    const age = doc.checks["feed-binance:BTC-USDT:age"][0];
    assert.equal(age.status, "pass");
    assert.ok(age.observedValue >= 2 && age.observedValue < 10, String(age.observedValue));
    assert.match(age.output, /read from primary/);
    assert.equal(doc.checks["redis-primary:responseTime"][0].status, "pass");
    assert.equal(typeof doc.checks["redis-primary:responseTime"][0].observedValue, "number");
    assert.equal(doc.checks["redis-failover:responseTime"][0].status, "pass");
  });
});

Deno.test("health exits 1 while failover is forced", async () => {
  await withSetup(async (ctx) => {
    writeStatus(ctx.dir, live({ mode: "failover", forced: true }));
    await writeLast(ctx.failover, 1_000);
    const run = await health([...targets(ctx), "--json"]);
    assert.equal(run.code, 1, run.stdout + run.stderr);
    const doc = JSON.parse(run.stdout);
    assert.equal(doc.status, "warn");
    assert.equal(doc.forced, true);
    assert.equal(doc.mode, "failover");
  });
});

Deno.test("health exits 1 when the primary is killed, and names it", async () => {
  await withSetup(async (ctx) => {
    writeStatus(ctx.dir, live());
    await writeLast(ctx.failover, 1_000);
    await ctx.primary.stop();
    const run = await health(targets(ctx));
    assert.equal(run.code, 1, run.stdout + run.stderr);
    assert.match(firstLine(run), /^BTCFEED WARNING - primary unreachable: .*connection refused/);
    assert.match(firstLine(run), NAGIOS_LINE);
  });
});

Deno.test("health does not hang on a hung primary: WARNING well within two seconds", async () => {
  await withSetup(async (ctx) => {
    writeStatus(ctx.dir, live());
    await writeLast(ctx.failover, 1_000);
    ctx.primary.pause();
    try {
      const run = await health(targets(ctx));
      assert.equal(run.code, 1, run.stdout + run.stderr);
      assert.match(firstLine(run), /primary unreachable: .*timed out/);
      assert.ok(run.ms < 2_000, `took ${Math.round(run.ms)} ms`);
    } finally {
      ctx.primary.resume();
    }
  });
});

Deno.test("health exits 1 when a market's latest trade in Redis is older than --max-age", async () => {
  await withSetup(async (ctx) => {
    writeStatus(ctx.dir, live());
    await writeLast(ctx.primary, 120_000);
    const stale = await health(targets(ctx));
    assert.equal(stale.code, 1, stale.stdout);
    assert.match(
      firstLine(stale),
      /binance:BTC-USDT: latest trade 12\d(\.\d)? s old \(over 60 s\)/,
    );
    const relaxed = await health([...targets(ctx), "--max-age", "600"]);
    assert.equal(relaxed.code, 0, relaxed.stdout);
  });
});

Deno.test("health exits 2 when no stream ever ran or its heartbeat is old", async () => {
  await withSetup(async (ctx) => {
    const none = await health(targets(ctx));
    assert.equal(none.code, 2, none.stdout + none.stderr);
    assert.match(firstLine(none), /^BTCFEED CRITICAL - stream not running: no status in /);

    writeStatus(ctx.dir, live({ heartbeatAt: Date.now() - 42_000 }));
    const old = await health([...targets(ctx), "--json"]);
    assert.equal(old.code, 2);
    const doc = JSON.parse(old.stdout);
    assert.equal(doc.status, "fail");
    assert.ok(doc.heartbeatAge >= 42, String(doc.heartbeatAge));
    assert.match(doc.output, /^stream not running: heartbeat 4\d(\.\d)? s old/);
  });
});

Deno.test("health exits 2 when no Redis is reachable and the outbox is at its limit", async () => {
  await withSetup(async (ctx) => {
    const s = live({ mode: "failover" });
    s.outbox = {
      depth: 100,
      bytes: 9000,
      maxTrades: 100,
      full: true,
      lastError: null,
      deadLetters: 0,
    };
    writeStatus(ctx.dir, s);
    await Promise.all([ctx.primary.stop(), ctx.failover.stop()]);
    const run = await health(targets(ctx));
    assert.equal(run.code, 2, run.stdout + run.stderr);
    assert.match(firstLine(run), /^BTCFEED CRITICAL - outbox full: .*no Redis is reachable/);
  });
});

Deno.test("health exits 3 (UNKNOWN) when the data directory cannot be read, JSON still printed", async () => {
  const dir = await Deno.makeTempDir({ prefix: "btcfeed-health-" });
  try {
    // Tests run as root, so permissions cannot make it unreadable: make it the wrong kind.
    const file = join(dir, "not-a-dir");
    await Deno.writeTextFile(file, "x");
    const run = await health(["--data-dir", file, "--primary", "redis://127.0.0.1:1"]);
    assert.equal(run.code, 3, run.stdout + run.stderr);
    assert.match(firstLine(run), /^BTCFEED UNKNOWN - health check could not run: cannot read /);
    assert.match(firstLine(run), NAGIOS_LINE);

    const statusDir = join(dir, "data");
    await Deno.mkdir(join(statusDir, "status.json"), { recursive: true });
    const json = await health([
      "--data-dir",
      statusDir,
      "--primary",
      "redis://127.0.0.1:1",
      "--json",
    ]);
    assert.equal(json.code, 3);
    const doc = JSON.parse(json.stdout);
    assert.equal(doc.status, "fail");
    assert.match(doc.output, /status\.json/);

    await Deno.remove(join(statusDir, "status.json"));
    await Deno.writeTextFile(join(statusDir, "status.json"), "{ not json");
    assert.equal(
      (await health(["--data-dir", statusDir, "--primary", "redis://127.0.0.1:1"])).code,
      3,
    );
    await Deno.writeTextFile(join(statusDir, "status.json"), `{"heartbeatAt": ${Date.now()}}`);
    const partial = await health(["--data-dir", statusDir, "--primary", "redis://127.0.0.1:1"]);
    assert.equal(partial.code, 3, partial.stdout + partial.stderr);
    assert.match(firstLine(partial), /not a btcfeed status record/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("health reads the outbox without creating or changing anything in the data directory", async () => {
  await withSetup(async (ctx) => {
    const outbox = Journal.open(ctx.dir, { maxTrades: 1000 });
    const trades = [1, 2, 3].map((i) => ({
      market: "binance:BTC-USDT",
      tradeId: String(i),
      price: "117250.10",
      size: "0.1",
      side: "buy" as const,
      ts: Date.now(),
      receivedAt: Date.now(),
      id: entryIdFor(Date.now(), String(i)),
    }));
    const appended = outbox.append(trades);
    assert.ok(appended.ok, JSON.stringify(appended));
    outbox.close();
    writeStatus(ctx.dir, live({ mode: "failover" }));
    await writeLast(ctx.failover, 1_000);
    const list = async () => {
      const names: string[] = [];
      for await (const e of Deno.readDir(ctx.dir)) names.push(e.name);
      return names.sort();
    };
    const before = await list();
    const run = await health([...targets(ctx), "--json"]);
    assert.equal(run.code, 1, run.stdout + run.stderr);
    const doc = JSON.parse(run.stdout);
    assert.equal(doc.checks["outbox:depth"][0].observedValue, 3);
    assert.deepEqual(await list(), before);

    const empty = join(ctx.dir, "never-used");
    const none = await health(["--data-dir", empty, "--primary", ctx.primary.url]);
    assert.equal(none.code, 2);
    await assert.rejects(Deno.stat(empty), Deno.errors.NotFound, "no data directory created");
  });
});

Deno.test("health never prints a Redis password and rejects a bad --max-age with exit 2", async () => {
  const dir = await Deno.makeTempDir({ prefix: "btcfeed-health-" });
  try {
    const run = await health([
      "--data-dir",
      dir,
      "--primary",
      "redis://alice:s3cr3t-pw@127.0.0.1:1",
      "--json",
    ]);
    assert.equal(run.code, 2);
    assert.ok(!run.stdout.includes("s3cr3t-pw") && !run.stderr.includes("s3cr3t-pw"));
    assert.match(run.stdout, /alice:\*\*\*@127\.0\.0\.1:1/);

    const bad = await health(["--data-dir", dir, "--max-age", "soon"]);
    assert.equal(bad.code, 2);
    assert.equal(bad.stdout, "");
    assert.match(bad.stderr, /^btcfeed: --max-age: "soon" must be a positive number of seconds\n$/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
