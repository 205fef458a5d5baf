/** `btcfeed sync`: replay the outbox into the primary now, exactly once and in order. */

import { Command } from "@commander-js/extra-typings";
import { SingleBar } from "cli-progress";
import process from "node:process";
import { addSharedOptions, configFrom } from "./options.ts";
import { Outbox } from "../failover/outbox.ts";
import { Replayer } from "../failover/replayer.ts";
import { checkCredentials, closeTarget, openTarget } from "../failover/targets.ts";
import { describeRedisError } from "../redis/errors.ts";
import type { Config } from "../config.ts";
import { GapStore } from "../failover/gap_store.ts";
import { GapRecorder } from "../failover/gap_recorder.ts";
import type { RedisTarget } from "../failover/targets.ts";

export interface SyncSummary {
  replayed: number;
  /** Already present on the primary (an earlier, interrupted replay had applied them). */
  skipped: number;
  /** Rejected as out-of-order and kept in the outbox's dead-letter table. */
  deadLettered: number;
  remaining: number;
  /** Gap records still waiting for the primary (they are flushed too). */
  gapRecordsPending: number;
  seconds: number;
}

export function syncCommand() {
  return addSharedOptions(new Command("sync"))
    .description("replay the local outbox into the primary now (after an outage)")
    .option("--dry-run", "report what would be replayed, change nothing")
    .option("--json", "print a JSON summary on stdout")
    .action(async (flags) => {
      const config = configFrom(flags);
      Deno.mkdirSync(config.dataDir, { recursive: true });
      const outbox = Outbox.open(config.dataDir, { maxTrades: config.outboxMax });
      try {
        if (flags.dryRun) {
          const markets = outbox.summary();
          const report = { wouldReplay: outbox.depth(), markets };
          if (flags.json) console.log(JSON.stringify(report));
          else {
            console.log(`would replay ${report.wouldReplay} trades`);
            for (const m of markets) {
              console.log(`  ${m.market}: ${m.count} trades, ${m.firstId} .. ${m.lastId}`);
            }
          }
          return;
        }
        if (outbox.depth() === 0 && pendingGapRecords(config.dataDir) === 0) {
          console.log(
            flags.json ? JSON.stringify(emptySummary()) : "outbox is empty: nothing to replay",
          );
          return;
        }
        const summary = await replayAll(outbox, config, !flags.json && Deno.stderr.isTerminal());
        if (flags.json) console.log(JSON.stringify(summary));
        else {
          console.log(
            `replayed ${summary.replayed}, skipped ${summary.skipped} already present, ` +
              `dead-lettered ${summary.deadLettered}, ${summary.remaining} remaining, ` +
              (summary.gapRecordsPending
                ? `${summary.gapRecordsPending} gap records waiting, `
                : "") +
              `${summary.seconds} s`,
          );
        }
      } finally {
        outbox.close();
      }
    });
}

async function replayAll(
  outbox: Outbox,
  config: Config,
  progress: boolean,
): Promise<SyncSummary> {
  const started = performance.now();
  const primary = openTarget(config.primaryUrl, "primary", config);
  const summary = emptySummary();
  const replayer = new Replayer(outbox, primary.writer, () => false, {
    holder: `sync:${Deno.pid}:${crypto.randomUUID().slice(0, 8)}`,
    untilSeq: outbox.maxSeq(),
  });
  const bar = progress ? new SingleBar({ stream: process.stderr, etaBuffer: 20 }) : null;
  try {
    if (!(await checkCredentials(primary, "primary", 2_000))) {
      throw new Error(
        `primary ${primary.url} is unreachable; ${outbox.depth()} trades remain in the outbox`,
      );
    }
    bar?.start(outbox.depth(), 0);
    let waitingFor: string | null = null;
    for (;;) {
      const step = await replayer.step().catch((e) => {
        throw new Error(`replay stopped: ${describeRedisError(e, primary.url)}`);
      });
      if (step.kind === "drained") break;
      if (step.kind === "busy") {
        if (step.holder && step.holder !== waitingFor && !progress) {
          console.error(`waiting for the replay lease held by ${step.holder}`);
        }
        waitingFor = step.holder;
        await new Promise((r) => setTimeout(r, 200));
        continue;
      }
      summary.replayed += step.applied;
      summary.skipped += step.duplicates;
      summary.deadLettered += step.deadLettered;
      bar?.increment(step.rows);
    }
    summary.gapRecordsPending = await flushGapRecords(config, primary);
  } finally {
    bar?.stop();
    replayer.release();
    closeTarget(primary);
    summary.remaining = outbox.depth();
    summary.seconds = Math.round((performance.now() - started) / 10) / 100;
  }
  return summary;
}

/** Writes gap records that a stream stored while the primary was away; returns how many wait. */
async function flushGapRecords(config: Config, primary: RedisTarget): Promise<number> {
  const store = GapStore.open(config.dataDir);
  try {
    if (store.depth() === 0) return 0;
    const recorder = new GapRecorder({ store, primary, failover: null, prefix: config.prefix });
    await recorder.flush();
    return store.depth();
  } finally {
    store.close();
  }
}

function emptySummary(): SyncSummary {
  return {
    replayed: 0,
    skipped: 0,
    deadLettered: 0,
    remaining: 0,
    gapRecordsPending: 0,
    seconds: 0,
  };
}

function pendingGapRecords(dataDir: string): number {
  const store = GapStore.open(dataDir);
  try {
    return store.depth();
  } finally {
    store.close();
  }
}
