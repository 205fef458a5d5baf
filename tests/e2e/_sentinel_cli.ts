/**
 * What the protected-Sentinel end-to-end tests share: a `kill -9` of the master under a running
 * stream, checked trade by trade on the promoted one; a bounded run of the real CLI (a stream
 * that failed to refuse would otherwise run forever), its one `btcfeed:` error line, and a check
 * that no secret shows in anything btcfeed printed or wrote.
 */

import { deepStrictEqual as assertEquals, ok } from "node:assert/strict";
import { join } from "node:path";
import { spawnCli, waitFor } from "../support/cli.ts";
import type { SentinelGroup } from "../support/sentinel.ts";
import { marketKeys } from "../../lib/redis/keys.ts";
import { assertFullTape, type Env } from "./_harness.ts";
import { awaitRecovery, describeRecovery, reader } from "./_sentinel.ts";

/**
 * With a stream running on `env`'s only fake into `group`: kills the master once 1,000 trades
 * landed, waits for the whole tape on the promoted master and the stream back on the primary,
 * and asserts every trade once, in order. Resolves with the recovery, as one line.
 */
export async function killMasterAndVerify(env: Env, group: SentinelGroup): Promise<string> {
  const fake = env.fakes[0];
  const key = marketKeys("btcfeed", fake.tape[0].market).trades;
  const oldPort = await group.masterPort();
  const master = reader(oldPort, group.dataClientOptions);
  await waitFor(async () => (await master.xlen(key)) >= 1_000, 20_000, "1,000 trades");
  master.disconnect();
  group.node(oldPort).kill("SIGKILL");
  const recovery = await awaitRecovery(group, oldPort, Date.now(), key);
  const last = reader(recovery.newPort, group.dataClientOptions);
  try {
    const all = fake.tape.length;
    await waitFor(async () => (await last.xlen(key)) >= all, 30_000, "the whole tape");
    await waitFor(() => env.status()?.mode === "primary", 20_000, "back on the primary");
    await assertFullTape(last, fake);
  } finally {
    last.disconnect();
  }
  return describeRecovery("killed", recovery);
}

/** How a bounded CLI run ended: its exit code and every stderr line. */
export interface BoundedRun {
  code: number;
  lines: string[];
}

/**
 * Runs `btcfeed <args>` with `vars`; a process still running after `ms` is stopped and the test
 * fails with its last log lines (it should have refused at once).
 */
export async function runBounded(
  args: string[],
  vars: Record<string, string>,
  ms = 15_000,
): Promise<BoundedRun> {
  const cli = spawnCli(args, vars);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<"late">((resolve) => timer = setTimeout(() => resolve("late"), ms));
  const ended = await Promise.race([cli.status, late]);
  clearTimeout(timer);
  if (ended === "late") {
    await cli.stop();
    throw new Error(`still running after ${ms} ms:\n${cli.lines.slice(-15).join("\n")}`);
  }
  return { code: ended.code, lines: cli.lines };
}

/** The single `btcfeed:` error line of a refused run (fails unless there is exactly one). */
export function errorLine(run: BoundedRun): string {
  const errors = run.lines.filter((l) => l.startsWith("btcfeed:"));
  assertEquals(errors.length, 1, run.lines.join("\n"));
  return errors[0];
}

/** Fails when any of `secrets` occurs in `texts` or in any file of the data directory's top. */
export function assertNoSecret(secrets: string[], texts: string[], dataDir?: string): void {
  const all = [...texts];
  if (dataDir) {
    for (const e of Deno.readDirSync(dataDir)) {
      if (e.isFile && /\.(json|log|txt)$/.test(e.name)) {
        all.push(Deno.readTextFileSync(join(dataDir, e.name)));
      }
    }
  }
  for (const secret of secrets) {
    const at = all.findIndex((t) => t.includes(secret));
    ok(at < 0, `a secret shows in output ${at}: ${all[at]?.slice(0, 300)}`);
  }
}
