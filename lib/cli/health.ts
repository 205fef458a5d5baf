/**
 * `btcfeed health [--json] [--max-age <seconds>]`: a one-shot check for cron, Nagios and
 * Kubernetes exec probes. Prints the `BTCFEED OK - ...` line and a table, or the
 * application/health+json document; exits 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN (the check
 * could not run; `--json` still prints a document, with status `fail`).
 */

import { Command } from "@commander-js/extra-typings";
import { ConfigError } from "../config.ts";
import { addSharedOptions, configFrom } from "./options.ts";
import { gatherHealthInput, HealthUnavailableError } from "../health/gather.ts";
import { report, unknownReport } from "../health/report.ts";
import { DEFAULT_HEALTH_OPTIONS, type HealthReport } from "../health/types.ts";
import { VERSION } from "../version.ts";

/** The `health` subcommand. */
export function healthCommand() {
  return addSharedOptions(new Command("health"))
    .description("one-shot health check (cron, Nagios, Kubernetes exec probes); exit 0/1/2/3")
    .option("--json", "print the application/health+json document")
    .option(
      "--max-age <seconds>",
      `trade staleness that turns a market's check to warn (default ${DEFAULT_HEALTH_OPTIONS.maxAgeSeconds})`,
    )
    .action(async (flags) => {
      const config = configFrom(flags);
      const maxAgeSeconds = parseMaxAge(flags.maxAge);
      let result: HealthReport;
      try {
        result = report(await gatherHealthInput(config, { maxAgeSeconds }));
      } catch (e) {
        if (!(e instanceof HealthUnavailableError)) throw e;
        result = unknownReport(e.message, Date.now(), VERSION);
      }
      console.log(
        flags.json ? JSON.stringify(result.document, null, 2) : `${result.nagios}\n${result.table}`,
      );
      Deno.exitCode = result.exitCode;
    });
}

function parseMaxAge(text: string | undefined): number {
  if (text === undefined) return DEFAULT_HEALTH_OPTIONS.maxAgeSeconds;
  const n = /^\d+(\.\d+)?$/.test(text) ? Number(text) : NaN;
  if (!(n > 0) || !Number.isFinite(n)) {
    throw new ConfigError(`--max-age: "${text}" must be a positive number of seconds`);
  }
  return n;
}
