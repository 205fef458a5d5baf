/** `btcfeed sync`: replay the outbox into the primary now, exactly once and in order. */

import { Command } from "@commander-js/extra-typings";
import { SingleBar } from "cli-progress";
import process from "node:process";
import { addSharedOptions, configFrom } from "./options.ts";
import { Outbox } from "../store/outbox.ts";
import { Replayer } from "../failover/replayer.ts";
import { checkCredentials, closeTarget, openTarget } from "../failover/targets.ts";
import { describeRedisError } from "../redis/errors.ts";
import type { Config } from "../config.ts";
import { GapStore } from "../store/gap_store.ts";
import { GapRecorder } from "../failover/gap_recorder.ts";

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
      const gaps = GapStore.open(config.dataDir);
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
        if (outbox.depth() === 0 && gaps.depth() === 0) {
          console.log(
            flags.json ? JSON.stringify(emptySummary()) : "outbox is empty: nothing to replay",
          );
          return;
        }
        const progress = !flags.json && Deno.stderr.isTerminal();
        const summary = await replayAll(outbox, gaps, config, progress);
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
        gaps.close();
        outbox.close();
      }
    });
}

async function replayAll(
  outbox: Outbox,
  gaps: GapStore,
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
    // Gap records a stream stored while the primary was away go now too.
    if (gaps.depth() > 0) {
      await new GapRecorder({ store: gaps, primary, failover: null, prefix: config.prefix })
        .flush();
    }
    summary.gapRecordsPending = gaps.depth();
  } finally {
    bar?.stop();
    replayer.release();
    closeTarget(primary);
    summary.remaining = outbox.depth();
    summary.seconds = Math.round((performance.now() - started) / 10) / 100;
  }
  return summary;
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
