/**
 * An exchange that refuses this location (HTTP 451 at the WebSocket upgrade) is reported loudly —
 * one log line, `blocked` in the status, a health warning naming it — while the other exchanges
 * keep streaming every trade.
 */

import { deepStrictEqual as assertEquals, ok } from "node:assert/strict";
import { runCli, waitFor } from "../support/cli.ts";
import { assertFullTape, tradeCount, withEnv } from "./_harness.ts";

Deno.test("a source blocked with HTTP 451 is reported once in the log, in status and by health, while the other exchange streams every trade", async () => {
  const now = Date.now() * 1000;
  await withEnv([
    { exchange: "binance", trades: 1_000, blockStatus: 451, startMicros: now },
    { exchange: "coinbase", trades: 1_500, ratePerSec: 3_000, startMicros: now },
  ], async (env) => {
    const [binance, coinbase] = env.fakes;
    const blocked = binance.tape[0].market;
    const open = coinbase.tape[0].market;
    const stream = env.startStream();
    await waitFor(async () => (await tradeCount(env.client, open)) >= 1_500, 30_000, "coinbase");
    await assertFullTape(env.client, coinbase);
    await waitFor(() => env.status()?.markets[blocked]?.state === "blocked", 5_000, "blocked");
    assertEquals(await tradeCount(env.client, blocked), 0);

    const blockedLines = stream.lines.filter((l) => l.includes('"feed.blocked"'));
    assertEquals(blockedLines.length, 1, "one line for the block");
    const line = JSON.parse(blockedLines[0]);
    assertEquals([line.level, line.market, line.status], ["warn", blocked, 451]);
    ok(/blocked \(HTTP 451\).*other markets continue/.test(line.message), line.message);

    const shared = ["--primary", env.redis.url, "--data-dir", env.dataDir];
    const json = await runCli(["health", "--json", ...shared]);
    assertEquals(json.code, 1, json.stdout + json.stderr);
    const doc = JSON.parse(json.stdout);
    assertEquals(doc.status, "warn");
    const state = doc.checks[`feed-${blocked}:state`][0];
    assertEquals([state.status, state.observedValue], ["warn", "blocked"]);
    ok(state.output.includes("HTTP 451"), state.output);
    assertEquals(doc.checks[`feed-${open}:state`][0].status, "pass");
    assertEquals(doc.checks[`feed-${open}:age`][0].status, "pass");
    ok(doc.output.includes(`${blocked}: blocked by the exchange`), doc.output);

    const nagios = await runCli(["health", ...shared]);
    assertEquals(nagios.code, 1);
    const first = nagios.stdout.split("\n")[0];
    ok(first.startsWith("BTCFEED WARNING - "), first);
    ok(first.includes(`${blocked}: blocked by the exchange`), first);
  });
});
