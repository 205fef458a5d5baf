/**
 * `btcfeed stream`: parses its options, runs the stream built by lib/app/stream_app.ts, and maps
 * how it ended to an exit: a refused credential or certificate is a configuration error (exit 2),
 * a failed replay exits 1.
 */

import { Command } from "@commander-js/extra-typings";
import { type Config, ConfigError, DEFAULTS, ENV } from "../config.ts";
import { addSharedOptions, configFrom } from "./options.ts";
import { runStreamApp } from "../app/stream_app.ts";

/** The feeder-group options of `stream` (see README, "Several feeders"). */
function addGroupOptions<C extends Command<[], Record<string, unknown>>>(cmd: C): C {
  cmd
    .option(
      "--group <name>",
      `join a feeder group: one writer at a time under a fenced lease, the others standby (env ${ENV.group}; default off)`,
    )
    .option(
      "--lease-ms <ms>",
      `writer lease time to live in a group (env ${ENV.leaseMs}; default ${DEFAULTS.leaseMs})`,
    )
    .option(
      "--feeder-id <id>",
      `this feeder's id in its group (env ${ENV.feederId}; default <hostname>:<pid>)`,
    );
  return cmd;
}

export function streamCommand() {
  return addGroupOptions(addSharedOptions(new Command("stream")))
    .description("stream trades into Redis with automatic failover")
    .option(
      "--exchanges <list>",
      `markets in priority order (env ${ENV.exchanges}; default ${DEFAULTS.exchanges})`,
    )
    .option(
      "--exchange-url <e=url...>",
      `override an exchange's WebSocket URL (env ${ENV.exchangeUrl})`,
    )
    .option("--rest-url <e=url...>", `override an exchange's REST base (env ${ENV.restUrl})`)
    .option(
      "--http <host:port|off>",
      `/health and /metrics listener (env ${ENV.http}; default ${DEFAULTS.http})`,
    )
    .option("--legacy-keys", `also write the original service's keys (env ${ENV.legacyKeys})`)
    .option(
      "--max-trades <n>",
      `approximate length of each market's stream (env ${ENV.maxTrades}; default ${DEFAULTS.maxTrades})`,
    )
    .option(
      "--outbox-max <n>",
      `outbox limit in trades (env ${ENV.outboxMax}; default ${DEFAULTS.outboxMax})`,
    )
    .option(
      "--journal-retain <duration>",
      `keep acknowledged trades this long, e.g. 90s, 30m, 2h (env ${ENV.journalRetain}; default ${DEFAULTS.journalRetain})`,
    )
    .option(
      "--journal-retain-trades <n>",
      `at most n journal rows per market (env ${ENV.journalRetainTrades}; default ${DEFAULTS.journalRetainTrades})`,
    )
    .option(
      "--journal-sync <mode>",
      `full: fsync every journal commit; normal: at checkpoints (env ${ENV.journalSync}; default ${DEFAULTS.journalSync})`,
    )
    .option(
      "--deadline-ms <ms>",
      `primary write deadline (env ${ENV.deadlineMs}; default ${DEFAULTS.deadlineMs})`,
    )
    .option(
      "--hold-down-ms <ms>",
      `primary healthy this long before use (env ${ENV.holdDownMs}; default ${DEFAULTS.holdDownMs})`,
    )
    .option("--record <file>", `append raw exchange messages as NDJSON (env ${ENV.record})`)
    .option("--replay <file>", `use a recorded NDJSON file as the source (env ${ENV.replay})`)
    .option(
      "--quiet",
      `no status line every ${DEFAULTS.statusIntervalMs / 1000} s on a terminal (env ${ENV.quiet})`,
    )
    .action(async (flags) => {
      await runStream(configFrom(flags));
    });
}

/** Options of {@link runStream} for callers that embed it (`demo`). */
export interface RunStreamOptions {
  /**
   * After a replay, wait for the primary to hold every trade and gap record (true), or return
   * once the recording is consumed, leaving what the primary lacks in the outbox (false).
   * @default true
   */
  drainReplay?: boolean;
}

/**
 * Runs until SIGINT/SIGTERM; then leaves every unacknowledged trade (and gap record) in the
 * outbox. With `--replay`, returns by itself once the recording is consumed and every trade and
 * gap record of it is on the primary (it waits for the primary as long as it takes, unless
 * `drainReplay` is false).
 * @throws ConfigError when a Redis refuses the credentials or certificate
 */
export async function runStream(config: Config, options: RunStreamOptions = {}): Promise<void> {
  // Signals are ours from the first moment: a SIGTERM during start-up still stops gracefully.
  const stop = new AbortController();
  const onSignal = (name: string) => () => stop.abort(name);
  const signals = [["SIGINT", onSignal("SIGINT")], ["SIGTERM", onSignal("SIGTERM")]] as const;
  for (const [sig, fn] of signals) Deno.addSignalListener(sig, fn);
  try {
    const outcome = await runStreamApp(config, stop.signal, options);
    if (outcome.kind === "refused") throw new ConfigError(outcome.message);
    if (outcome.kind === "replay_failed") {
      throw new Error(`--replay: reading ${outcome.file} failed`);
    }
  } finally {
    for (const [sig, fn] of signals) Deno.removeSignalListener(sig, fn);
  }
}
