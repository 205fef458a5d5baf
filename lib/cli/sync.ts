/**
 * `btcfeed sync`: replay the outbox into the primary now, exactly once and in order, moving
 * `P:btc:last` forward to the newest replayed trade of its market (see _sync_price.ts);
 * `--dead-letters` lists what the primary refused, `--dead-letters --retry` replays it again;
 * `--recover` first salvages the store files moved aside as corrupt into the live store.
 */

import { Command } from "@commander-js/extra-typings";
import { SingleBar } from "cli-progress";
import process from "node:process";
import { addSharedOptions, configFrom } from "./options.ts";
import type { Journal } from "../store/journal.ts";
import type { GapStore } from "../store/gap_store.ts";
import { Replayer } from "../failover/replayer.ts";
import { checkCredentials, confirmReplayed } from "../failover/targets.ts";
import { describeRedisError } from "../redis/errors.ts";
import { type Config, ConfigError, DEFAULTS, ENV } from "../config.ts";
import { GapRecorder } from "../failover/gap_recorder.ts";
import { holderName, openStores, openTargets } from "../app/factories.ts";
import { recover } from "./_recover.ts";
import { syncConsolidatedMarket } from "./_sync_price.ts";
import {
  deadLetterViews,
  moveBackForRetry,
  rejectedAgain,
  renderDeadLetters,
} from "./_dead_letters.ts";

export interface SyncSummary {
  replayed: number;
  /** Already present on the primary (an earlier, interrupted replay had applied them). */
  skipped: number;
  /** Rejected (out-of-order, or refused for their content) and kept as dead letters. */
  deadLettered: number;
  /** Dead letters kept in all, after this run. */
  deadLetters: number;
  /** With `--dead-letters --retry`: how the dead letters moved back for this replay fared. */
  retry?: { retried: number; wentThrough: number; rejectedAgain: number };
  remaining: number;
  /** Gap records still waiting for the primary (they are flushed too). */
  gapRecordsPending: number;
  seconds: number;
}

export function syncCommand() {
  return addSharedOptions(new Command("sync"))
    .description("replay the local outbox into the primary now (after an outage)")
    .option(
      "--exchanges <list>",
      `markets in priority order, for P:btc:last when it names none (env ${ENV.exchanges}; default ${DEFAULTS.exchanges})`,
    )
    .option("--legacy-keys", `also write the original service's keys (env ${ENV.legacyKeys})`)
    .option("--dry-run", "report what would be replayed, change nothing")
    .option("--json", "print a JSON summary on stdout")
    .option("--dead-letters", "list the trades the primary refused (kept as dead letters)")
    .option("--retry", "with --dead-letters: move them back and replay them now")
    .option(
      "--recover",
      "first salvage every readable row of store files moved aside as corrupt, then replay",
    )
    .action(async (flags) => {
      if (flags.retry && !flags.deadLetters) {
        throw new ConfigError("--retry needs --dead-letters (btcfeed sync --dead-letters --retry)");
      }
      if (flags.dryRun && flags.deadLetters) {
        throw new ConfigError("--dry-run does not combine with --dead-letters");
      }
      await runSync(configFrom(flags), {
        json: !!flags.json,
        dryRun: !!flags.dryRun,
        deadLetters: !!flags.deadLetters,
        retry: !!flags.retry,
        recover: !!flags.recover,
      });
    });
}

interface SyncFlags {
  json: boolean;
  dryRun: boolean;
  deadLetters: boolean;
  retry: boolean;
  recover: boolean;
}

async function runSync(config: Config, flags: SyncFlags): Promise<void> {
  const { stores, recovered } = flags.recover && !flags.dryRun
    ? recover(config, flags.json)
    : { stores: openStores(config), recovered: null };
  const { journal: outbox, gaps } = stores;
  try {
    if (flags.deadLetters && !flags.retry) return listDeadLetters(outbox, flags.json);
    if (flags.dryRun) return dryRun(outbox, flags.json);
    const retry = flags.retry;
    const extra = recovered ? { recovered } : {};
    if (outbox.depth() === 0 && gaps.depth() === 0 && (!retry || !outbox.deadLetterCount())) {
      console.log(
        flags.json
          ? JSON.stringify({ ...emptySummary(), deadLetters: outbox.deadLetterCount(), ...extra })
          : retry
          ? "no dead letters: nothing to retry"
          : "outbox is empty: nothing to replay",
      );
      return;
    }
    const progress = !flags.json && Deno.stderr.isTerminal();
    const summary = await replayAll(outbox, gaps, config, progress, retry);
    console.log(flags.json ? JSON.stringify({ ...summary, ...extra }) : summaryLine(summary));
  } finally {
    stores.close();
  }
}

function listDeadLetters(outbox: Journal, json: boolean): void {
  const views = deadLetterViews(outbox.deadLetters(Number.MAX_SAFE_INTEGER));
  if (json) console.log(JSON.stringify({ count: views.length, deadLetters: views }));
  else console.log(renderDeadLetters(views, Deno.stdout.isTerminal()));
}

function dryRun(outbox: Journal, json: boolean): void {
  const markets = outbox.summary();
  const report = { wouldReplay: outbox.depth(), markets };
  if (json) console.log(JSON.stringify(report));
  else {
    console.log(`would replay ${report.wouldReplay} trades`);
    for (const m of markets) {
      console.log(`  ${m.market}: ${m.count} trades, ${m.firstId} .. ${m.lastId}`);
    }
  }
}

function summaryLine(s: SyncSummary): string {
  const retry = s.retry
    ? `retried ${s.retry.retried} dead letters: ${s.retry.wentThrough} went through, ` +
      `${s.retry.rejectedAgain} rejected again; `
    : "";
  return retry + `replayed ${s.replayed}, skipped ${s.skipped} already present, ` +
    `dead-lettered ${s.deadLettered}, ${s.remaining} remaining, ` +
    (s.gapRecordsPending ? `${s.gapRecordsPending} gap records waiting, ` : "") +
    (s.deadLetters ? `${s.deadLetters} dead letters kept (btcfeed sync --dead-letters), ` : "") +
    `${s.seconds} s`;
}

/** Replays the outbox; with `retry`, moves the dead letters back into it first. */
async function replayAll(
  outbox: Journal,
  gaps: GapStore,
  config: Config,
  progress: boolean,
  retry: boolean,
): Promise<SyncSummary> {
  const started = performance.now();
  const { primary, close } = openTargets(config, false);
  const summary = emptySummary();
  const holder = holderName("sync");
  let retried: number[] | null = null;
  const bar = progress ? new SingleBar({ stream: process.stderr, etaBuffer: 20 }) : null;
  try {
    const check = await checkCredentials(primary, "primary", 2_000);
    if (!check.ok) throw new ConfigError(check.message);
    if (!check.reachable) {
      throw new Error(
        `primary ${primary.url} is unreachable; ${outbox.depth()} trades remain in the outbox`,
      );
    }
    const onBusy = busyReporter(progress);
    // Under the lease, so no replayer is past these seqs when they reappear.
    if (retry) retried = await moveBackForRetry(outbox, holder, onBusy);
    const consolidated = await syncConsolidatedMarket(
      primary.redis,
      config.prefix,
      config.markets.map((m) => m.market),
      outbox.summary().map((m) => m.market),
      config.deadlineMs,
    );
    // Rows appended from now on are the stream's to replay, not ours.
    const replayer = new Replayer(outbox, primary.replayWriter, (m) => m === consolidated, {
      holder,
      untilSeq: outbox.maxSeq(),
    }, () => confirmReplayed(primary, config.primaryReplicas, config.deadlineMs / 2));
    bar?.start(outbox.depth(), 0);
    const outcome = await replayer.drain({
      busyRetryMs: 200,
      onBusy,
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
    outbox.releaseLease(holder);
    close();
    finishSummary(summary, outbox, retried, started);
  }
  return summary;
}

/** Prints one line each time the replay lease is found held by someone new (not over a bar). */
function busyReporter(progress: boolean): (holder: string | null) => void {
  let waitingFor: string | null = null;
  return (holder) => {
    if (holder && holder !== waitingFor && !progress) {
      console.error(`waiting for the replay lease held by ${holder}`);
    }
    waitingFor = holder;
  };
}

/** What is left after a replay, and how the retried dead letters fared. */
function finishSummary(
  summary: SyncSummary,
  outbox: Journal,
  retried: number[] | null,
  started: number,
): void {
  summary.remaining = outbox.depth();
  summary.deadLetters = outbox.deadLetterCount();
  if (retried) {
    const again = rejectedAgain(outbox, retried);
    summary.retry = {
      retried: retried.length,
      wentThrough: retried.length - again,
      rejectedAgain: again,
    };
  }
  summary.seconds = Math.round((performance.now() - started) / 10) / 100;
}

function emptySummary(): SyncSummary {
  return {
    replayed: 0,
    skipped: 0,
    deadLettered: 0,
    deadLetters: 0,
    remaining: 0,
    gapRecordsPending: 0,
    seconds: 0,
  };
}
