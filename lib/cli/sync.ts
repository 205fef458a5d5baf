/** `btcfeed sync`: replay the outbox into the primary now, exactly once and in order. */

import { Command } from "@commander-js/extra-typings";
import { SingleBar } from "cli-progress";
import process from "node:process";
import { addSharedOptions, configFrom } from "./options.ts";
import type { Journal } from "../store/journal.ts";
import { confirmReplicas } from "../failover/replicas.ts";
import type { GapStore } from "../store/gap_store.ts";
import { Replayer } from "../failover/replayer.ts";
import { checkCredentials } from "../failover/targets.ts";
import { describeRedisError } from "../redis/errors.ts";
import { type Config, ConfigError } from "../config.ts";
import { GapRecorder } from "../failover/gap_recorder.ts";
import { holderName, openStores, openTargets } from "../app/factories.ts";

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
      const stores = openStores(config);
      const { journal: outbox, gaps } = stores;
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
        stores.close();
      }
    });
}

async function replayAll(
  outbox: Journal,
  gaps: GapStore,
  config: Config,
  progress: boolean,
): Promise<SyncSummary> {
  const started = performance.now();
  const { primary, close } = openTargets(config, false);
  const summary = emptySummary();
  const replayer = new Replayer(outbox, primary.writer, () => false, {
    holder: holderName("sync"),
    untilSeq: outbox.maxSeq(),
  }, () => confirmReplicas(primary.redis, config.primaryReplicas, config.deadlineMs / 2));
  const bar = progress ? new SingleBar({ stream: process.stderr, etaBuffer: 20 }) : null;
  try {
    const check = await checkCredentials(primary, "primary", 2_000);
    if (!check.ok) throw new ConfigError(check.message);
    if (!check.reachable) {
      throw new Error(
        `primary ${primary.url} is unreachable; ${outbox.depth()} trades remain in the outbox`,
      );
    }
    bar?.start(outbox.depth(), 0);
    let waitingFor: string | null = null;
    const outcome = await replayer.drain({
      busyRetryMs: 200,
      onBusy: (holder) => {
        if (holder && holder !== waitingFor && !progress) {
          console.error(`waiting for the replay lease held by ${holder}`);
        }
        waitingFor = holder;
      },
      onBatch: (batch) => {
        summary.replayed += batch.applied;
        summary.skipped += batch.duplicates;
        summary.deadLettered += batch.deadLettered;
        bar?.increment(batch.rows);
      },
    });
    if (outcome.kind === "failed") {
      throw new Error(`replay stopped: ${describeRedisError(outcome.error, primary.url)}`);
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
    close();
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
