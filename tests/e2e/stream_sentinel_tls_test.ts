/**
 * `rediss+sentinel://` through the real `btcfeed stream`: sentinels and data nodes listen with
 * TLS only (`--port 0`), replicate and talk to each other over TLS (`tls-replication yes`), with
 * certificates from a test CA made by openssl. With that CA given to `--tls-ca` the stream rides
 * through a `kill -9` of the master, every trade once, in order, on the promoted one; with a CA
 * that did not sign the certificates it refuses in one line, exit 2.
 */

import { deepStrictEqual as assertEquals, match } from "node:assert/strict";
import { makeOtherCa } from "../support/redis_server.ts";
import { startSentinelGroup } from "../support/sentinel.ts";
import { streamArgs, withEnv } from "./_harness.ts";
import { errorLine, killMasterAndVerify, runBounded } from "./_sentinel_cli.ts";

const TRADES = 3_000;

Deno.test("rediss+sentinel:// with TLS on sentinels and data nodes: every trade once, in order, through a kill -9 of the master", async () => {
  const group = await startSentinelGroup({ replicas: 1, tls: true });
  try {
    await withEnv([{ exchange: "binance", trades: TRADES, ratePerSec: 1_000 }], async (env) => {
      match(group.url, /^rediss\+sentinel:\/\//);
      env.startStream(["--failover", env.redis.url, "--tls-ca", group.tlsCaFile!], group.url);
      console.log(`TLS sentinel: ${await killMasterAndVerify(env, group)}`);
    });
  } finally {
    await group.stop();
  }
});

Deno.test("rediss+sentinel:// with a CA that did not sign the certificates: one line naming --primary and the certificate, exit 2", async () => {
  const group = await startSentinelGroup({ replicas: 0, sentinels: 1, quorum: 1, tls: true });
  try {
    await withEnv([{ exchange: "binance", trades: 100, ratePerSec: 1_000 }], async (env) => {
      const args = streamArgs(env.fakes, group.url, env.dataDir);
      const run = await runBounded([...args, "--tls-ca", await makeOtherCa()], {});
      assertEquals(run.code, 2, run.lines.join("\n"));
      match(errorLine(run), /^btcfeed: --primary: .*certificate/i);
      console.log(errorLine(run));
    });
  } finally {
    await group.stop();
  }
});
