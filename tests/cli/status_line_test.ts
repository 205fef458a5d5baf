/** The terminal status line: a pure renderer, printed every interval on a pty unless --quiet. */

import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { statusLine, type StatusLineSnapshot } from "../../lib/runtime/status_line.ts";
import type { MarketStatus } from "../../lib/runtime/status.ts";
import { startRedis } from "../support/redis_server.ts";
import { startFakeExchange } from "../support/fake_exchange.ts";
import { BTCFEED_PERMISSIONS } from "../support/cli.ts";

function snapshot(
  at: number,
  tradesReceived: number,
  states: MarketStatus["state"][],
  depth: number,
): StatusLineSnapshot {
  const markets = Object.fromEntries(
    states.map((state, i) => [`m${i}`, { state } as MarketStatus]),
  );
  return {
    mode: "failover",
    startedAt: 1_000_000,
    heartbeatAt: at,
    counters: { tradesReceived } as StatusLineSnapshot["counters"],
    outbox: { depth } as StatusLineSnapshot["outbox"],
    markets,
  };
}

Deno.test("the status line shows mode, markets live/total, trades per minute over the last interval and outbox depth", () => {
  const first = snapshot(1_010_000, 500, ["live", "down", "live"], 12_345);
  assert.equal(
    statusLine(first, null),
    "status: mode failover · 2/3 markets live · 3,000 trades/min · outbox 12,345",
  );
  const next = snapshot(1_020_000, 700, ["live", "live", "blocked"], 0);
  assert.equal(
    statusLine(next, first),
    "status: mode failover · 2/3 markets live · 1,200 trades/min · outbox 0",
  );
  assert.match(statusLine(snapshot(1_000_000, 0, [], 0), null), /0\/0 markets live · 0 trades/);
});

const MAIN = fileURLToPath(new URL("../../main.ts", import.meta.url));

/** Runs `stream` for `seconds` on a pseudo-terminal (`script`); returns what the terminal showed. */
async function onTerminal(extra: string[], seconds: number): Promise<string> {
  const redis = await startRedis();
  const fake = await startFakeExchange({ exchange: "binance", trades: 100_000, ratePerSec: 200 });
  const dataDir = await Deno.makeTempDir();
  try {
    const argv = [
      "timeout",
      "-s",
      "TERM",
      String(seconds),
      Deno.execPath(),
      "run",
      ...BTCFEED_PERMISSIONS,
      MAIN,
      "stream",
      "--exchanges=binance",
      `--exchange-url=binance=${fake.wsUrl}`,
      `--primary=${redis.url}`,
      `--data-dir=${dataDir}`,
      "--http=off",
      ...extra,
    ];
    const out = await new Deno.Command("script", {
      args: ["-qec", argv.map((a) => `'${a}'`).join(" "), "/dev/null"],
      env: { BTCFEED_STATUS_INTERVAL_MS: "500", NO_COLOR: "1" },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    return new TextDecoder().decode(out.stdout);
  } finally {
    await fake.stop();
    await redis.stop();
    await Deno.remove(dataDir, { recursive: true });
  }
}

Deno.test("on a terminal the stream prints the status line every interval, and not with --quiet", async () => {
  const shown = await onTerminal([], 6);
  assert.match(shown, /stream started/, shown);
  const lines = shown.split(/\r?\n/).filter((l) => l.startsWith("status: "));
  assert.ok(lines.length >= 2, `status lines:\n${shown}`);
  assert.match(
    lines.at(-1)!,
    /^status: mode primary · 1\/1 markets live · [\d,]+ trades\/min · outbox 0$/,
  );
  assert.ok(lines.some((l) => !/ 0 trades\/min/.test(l)), lines.join("\n"));

  const quiet = await onTerminal(["--quiet"], 5);
  assert.match(quiet, /stream started/, quiet);
  assert.ok(!/status: /.test(quiet), quiet);
});
