/**
 * Model test of the failover core: random sequences of submits, network faults, SIGSTOPs and
 * forced failovers against an in-process FailoverCore with a real primary behind the fault
 * proxy. The model is trivial — the primary must end up holding every submitted trade, once, in
 * submission order — which is exactly the promise.
 */

import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { startRedis } from "../support/redis_server.ts";
import { startProxy } from "../support/tcp_proxy.ts";
import { seededRandom } from "../support/rng.ts";
import { waitFor } from "../support/cli.ts";
import { resolveConfig } from "../../lib/config.ts";
import { FailoverCore } from "../../lib/failover/core.ts";
import { Journal } from "../../lib/store/journal.ts";
import { closeTarget, openTarget } from "../../lib/failover/targets.ts";
import { Redis } from "ioredis";
import { marketKeys } from "../../lib/redis/keys.ts";
import { log } from "../../lib/log.ts";
import { entryIdFor, type Trade } from "../../lib/trade.ts";

const MARKET = "kraken:BTC-USD";

function trade(i: number): Trade {
  const ts = 1_785_000_000_000 + i * 3;
  const tradeId = String(90_000_000 + i);
  return {
    market: MARKET,
    tradeId,
    price: `${60_000 + (i % 977)}.${i % 10}`,
    size: `0.${String(1 + (i % 99_999)).padStart(6, "0")}`,
    side: i % 2 ? "buy" : "sell",
    ts,
    receivedAt: ts + 1,
    id: entryIdFor(ts, tradeId),
  };
}

for (const seed of [11, 12, 13]) {
  Deno.test(`core model (seed ${seed}): every submitted trade reaches the primary once, in order, whatever the faults`, async () => {
    const random = seededRandom(seed);
    const primary = await startRedis({ args: ["--appendonly", "yes", "--appendfsync", "always"] });
    const proxy = await startProxy({ hostname: "127.0.0.1", port: primary.port });
    const dataDir = await Deno.makeTempDir();
    const config = resolveConfig({ primary: proxy.url(), dataDir, deadlineMs: "300" }, {});
    const outbox = Journal.open(dataDir);
    const target = openTarget(config.primaryUrl, "primary", config);
    const reader = new Redis(primary.url);
    log.configure({ level: "error" });
    const core = new FailoverCore({
      primary: target,
      failover: null,
      journal: outbox,
      isConsolidated: () => true,
      holder: `model:${seed}`,
      forced: false,
    }, { deadlineMs: 300, holdDownMs: 200, probeIntervalMs: 50 });
    core.start();
    let submitted = 0;
    const actions: string[] = [];
    try {
      for (let step = 0; step < 60; step++) {
        const r = random();
        if (r < 0.45) {
          const n = 1 + Math.floor(random() * 300);
          core.submit(Array.from({ length: n }, () => trade(submitted++)));
          actions.push(`submit ${n}`);
        } else if (r < 0.6) {
          const mode = (["refuse", "hang", "reset", "pass"] as const)[Math.floor(random() * 4)];
          await proxy.mode(mode);
          actions.push(mode);
        } else if (r < 0.68) {
          primary.pause();
          await new Promise((res) => setTimeout(res, 100 + random() * 500));
          primary.resume();
          actions.push("sigstop");
        } else if (r < 0.76) {
          const forced = random() < 0.5;
          core.setForced(forced);
          actions.push(forced ? "force" : "release");
        } else {
          const ms = Math.floor(random() * 400);
          await new Promise((res) => setTimeout(res, ms));
          actions.push(`sleep ${ms}`);
        }
      }
      await proxy.mode("pass");
      core.setForced(false);
      const key = marketKeys("btcfeed", MARKET).trades;
      await waitFor(
        async () =>
          core.mode === "primary" && outbox.depth() === 0 && (await reader.xlen(key)) === submitted,
        30_000,
        `all ${submitted} trades on the primary after: ${actions.join(", ")}`,
      );
      const ids = (await reader.xrange(key, "-", "+")).map(([id]) => id);
      assertEquals(ids, Array.from({ length: submitted }, (_, i) => trade(i).id));
      assertEquals(core.counters.dropped + core.counters.outOfOrder, 0);
    } finally {
      await core.close();
      closeTarget(target);
      reader.disconnect();
      outbox.close();
      log.configure({ level: "info" });
      await proxy.stop();
      await primary.stop();
      await Deno.remove(dataDir, { recursive: true });
    }
  });
}
