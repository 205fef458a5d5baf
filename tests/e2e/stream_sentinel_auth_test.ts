/**
 * A Sentinel primary protected by passwords, through the real `btcfeed stream` and `btcfeed
 * health`: the sentinels require their own password (`requirepass`, and `sentinel sentinel-pass`
 * between them), the data nodes an ACL user given in the URL. With BTCFEED_SENTINEL_PASSWORD the
 * stream rides through a `kill -9` of the master (ioredis asks the protected sentinels again and
 * authenticates to the promoted master) with every trade once, in order; without it, or with a
 * wrong one, it refuses in one line naming the variable, exit 2. No password is ever printed.
 */

import { deepStrictEqual as assertEquals, match } from "node:assert/strict";
import { runCli } from "../support/cli.ts";
import { startSentinelGroup } from "../support/sentinel.ts";
import { streamArgs, withEnv } from "./_harness.ts";
import { assertNoSecret, errorLine, killMasterAndVerify, runBounded } from "./_sentinel_cli.ts";

const SENTINEL_PASSWORD = "sentinel-Secret-7f3a";
const DATA_USER = { user: "feeder", password: "data-Secret-91c2" };
const SECRETS = [SENTINEL_PASSWORD, DATA_USER.password];
const TRADES = 3_000;

Deno.test("password-protected sentinels and data nodes: every trade once, in order, through a kill -9 of the master; health passes; no password shows", async () => {
  const group = await startSentinelGroup({
    replicas: 1,
    sentinelPassword: SENTINEL_PASSWORD,
    dataUser: DATA_USER,
  });
  try {
    const tape = { trades: TRADES, ratePerSec: 1_000, startMicros: Date.now() * 1000 };
    await withEnv([{ exchange: "binance", ...tape }], async (env) => {
      const vars = { BTCFEED_SENTINEL_PASSWORD: SENTINEL_PASSWORD };
      const stream = env.startStream(["--failover", env.redis.url], group.url, vars);
      console.log(`protected sentinel: ${await killMasterAndVerify(env, group)}`);
      const health = ["health", "--primary", group.url, "--failover", env.redis.url];
      const common = ["--data-dir", env.dataDir];
      const text = await runCli([...health, ...common], vars);
      const json = await runCli([...health, ...common, "--json"], vars);
      assertEquals(text.code, 0, text.stdout + text.stderr);
      match(text.stdout, /^BTCFEED OK/);
      assertEquals(JSON.parse(json.stdout).status, "pass", json.stdout);
      assertNoSecret(
        SECRETS,
        [stream.lines.join("\n"), text.stdout, text.stderr, json.stdout, json.stderr],
        env.dataDir,
      );
    });
  } finally {
    await group.stop();
  }
});

Deno.test("protected sentinels without BTCFEED_SENTINEL_PASSWORD, or with a wrong one, or a wrong data password: one line naming what to fix, exit 2, no password shown", async () => {
  const group = await startSentinelGroup({
    replicas: 0,
    sentinels: 1,
    quorum: 1,
    sentinelPassword: SENTINEL_PASSWORD,
    dataUser: DATA_USER,
  });
  try {
    await withEnv([{ exchange: "binance", trades: 100, ratePerSec: 1_000 }], async (env) => {
      const args = streamArgs(env.fakes, group.url, env.dataDir);
      const wrong = "wrong-Sentinel-Pass-55";
      const cases: Record<string, string>[] = [{}, { BTCFEED_SENTINEL_PASSWORD: wrong }];
      for (const vars of cases) {
        const run = await runBounded(args, vars);
        assertEquals(run.code, 2, run.lines.join("\n"));
        match(errorLine(run), /^btcfeed: --primary: .*BTCFEED_SENTINEL_PASSWORD/);
        assertNoSecret([...SECRETS, wrong], [run.lines.join("\n")], env.dataDir);
        console.log(errorLine(run));
      }
      // The sentinels' password right, the data nodes' wrong: the master refuses it.
      const wrongData = group.url.replace(DATA_USER.password, wrong);
      const run = await runBounded(streamArgs(env.fakes, wrongData, env.dataDir), {
        BTCFEED_SENTINEL_PASSWORD: SENTINEL_PASSWORD,
      });
      assertEquals(run.code, 2, run.lines.join("\n"));
      match(errorLine(run), /^btcfeed: --primary: .*authentication failed \(WRONGPASS\)/);
      assertNoSecret([...SECRETS, wrong], [run.lines.join("\n")], env.dataDir);
      console.log(errorLine(run));
      const health = await runCli(["health", "--primary", group.url, "--data-dir", env.dataDir]);
      assertNoSecret(SECRETS, [health.stdout, health.stderr]);
      match(health.stdout, /BTCFEED_SENTINEL_PASSWORD/);
      console.log(health.stdout.split("\n")[0]);
    });
  } finally {
    await group.stop();
  }
});
