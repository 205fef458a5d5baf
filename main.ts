/**
 * btcfeed: stream live Bitcoin trades from exchange WebSockets into Redis, never losing one.
 *
 * Builds the program from lib/cli/* and maps failures to exit codes: a usage or configuration
 * error prints one line naming what to fix and exits 2; any other failure exits 1 with its cause.
 */

import { Command, CommanderError } from "@commander-js/extra-typings";
import { ConfigError } from "./lib/config.ts";
import { VERSION } from "./lib/version.ts";
import { streamCommand } from "./lib/cli/stream.ts";
import { failoverCommand } from "./lib/cli/failover.ts";
import { syncCommand } from "./lib/cli/sync.ts";
import { healthCommand } from "./lib/cli/health.ts";
import { monitorCommand } from "./lib/cli/monitor.ts";
import { demoCommand } from "./lib/cli/demo.ts";

const USAGE_ERROR = 2;
const encoder = new TextEncoder();

/** Usage errors stay on one line: commander's "(Did you mean ...?)" joins the error line. */
const output = {
  writeErr: (text: string) => {
    Deno.stderr.writeSync(encoder.encode(text.replace(/\n(?=\(Did you mean)/, " ")));
  },
};

function program(): Command {
  const root = new Command("btcfeed")
    .description("Stream live Bitcoin trades into Redis with automatic failover; never lose one.")
    .version(VERSION, "-V, --version");
  for (
    const sub of [
      streamCommand(),
      healthCommand(),
      failoverCommand(),
      syncCommand(),
      monitorCommand(),
      demoCommand(),
    ]
  ) {
    root.addCommand(sub.exitOverride().configureOutput(output));
  }
  return root.exitOverride().configureOutput(output);
}

async function main(): Promise<void> {
  try {
    await program().parseAsync(Deno.args, { from: "user" });
  } catch (e) {
    if (e instanceof CommanderError) {
      // Commander already printed its one-line message; help and version are not errors.
      Deno.exitCode = e.exitCode === 0 ? 0 : USAGE_ERROR;
    } else if (e instanceof ConfigError) {
      console.error(`btcfeed: ${e.message}`);
      Deno.exitCode = USAGE_ERROR;
    } else {
      console.error(`btcfeed: ${e instanceof Error ? e.message : String(e)}`);
      Deno.exitCode = 1;
    }
  }
}

if (import.meta.main) await main();
