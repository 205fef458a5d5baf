/**
 * A Sentinel primary: real master, two replicas and three sentinels; `kill -9` of the master
 * mid-stream, then of the promoted master. btcfeed carries each election on its outbox and the
 * failover Redis, then writes to the new master, found by ioredis' Sentinel client. A write the
 * old master acknowledged but had not replicated when it died is found missing by reconciliation
 * before btcfeed writes to the new master, and re-applied from the journal: nothing may be lost.
 */

import { waitFor } from "../support/cli.ts";
import { startSentinelGroup } from "../support/sentinel.ts";
import { describeVerdict, verifyMarket } from "../support/verify.ts";
import { marketKeys } from "../../lib/redis/keys.ts";
import { assertFullTape, withEnv } from "./_harness.ts";
import { awaitRecovery, describeRecovery, missingPositions, reader } from "./_sentinel.ts";

const TRADES = 12_000;

Deno.test("a Sentinel primary survives kill -9 of its master twice: every trade once, in order, on the last master", async () => {
  const group = await startSentinelGroup();
  try {
    await withEnv([{ exchange: "binance", trades: TRADES, ratePerSec: 1_000 }], async (env) => {
      const fake = env.fakes[0];
      const key = marketKeys("btcfeed", fake.tape[0].market).trades;
      // env.redis is the failover Redis here; the primary is reached only through the sentinels.
      env.startStream(["--failover", env.redis.url], group.url);
      const recoveries: string[] = [];
      const killedAt: number[] = [];
      let masterPort = await group.masterPort();
      for (const killAt of [3_000, 7_000]) {
        const master = reader(masterPort);
        await waitFor(async () => (await master.xlen(key)) >= killAt, 30_000, `${killAt} trades`);
        killedAt.push(await master.xlen(key));
        master.disconnect();
        group.node(masterPort).kill("SIGKILL");
        const recovery = await awaitRecovery(group, masterPort, Date.now(), key);
        recoveries.push(describeRecovery("killed", recovery));
        masterPort = recovery.newPort;
      }
      const last = reader(masterPort);
      try {
        await waitFor(async () => (await last.xlen(key)) >= TRADES, 60_000, "the whole tape");
        await waitFor(
          () => env.status()?.mode === "primary",
          30_000,
          "back on the primary",
        );
        const verdict = await verifyMarket(last, "btcfeed", fake.tape);
        const missing = await missingPositions(last, key, fake.tape);
        const counters = env.status()?.counters;
        console.log(
          `sentinel: ${recoveries.join("; ")}; final: ${describeVerdict(verdict)}; ` +
            `missing tape positions: [${missing.join(",")}], kills at ${killedAt.join(",")}; ` +
            `primary resets repaired ${counters?.primaryResets} ` +
            `(${counters?.reconciledTrades} trades re-applied)`,
        );
        await assertFullTape(last, fake);
      } finally {
        last.disconnect();
      }
    });
  } finally {
    await group.stop();
  }
});
