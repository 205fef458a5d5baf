/**
 * `btcfeed monitor`: a live terminal dashboard of the stream running on this data directory.
 * Full screen on a terminal (restored on exit and Ctrl-C), plain frames when piped; `--once`
 * prints a single frame.
 */

import { Command } from "@commander-js/extra-typings";
import { ConfigError } from "../config.ts";
import { addSharedOptions, configFrom } from "./options.ts";
import { runMonitor } from "../monitor/loop.ts";
import { DEFAULT_HEALTH_OPTIONS } from "../health/types.ts";

/** The `monitor` subcommand. */
export function monitorCommand() {
  return addSharedOptions(new Command("monitor"))
    .description("live terminal dashboard of a running stream (Ctrl-C quits)")
    .option("--once", "print one frame and exit")
    .option(
      "--max-age <seconds>",
      `trade age shown as stale (default ${DEFAULT_HEALTH_OPTIONS.maxAgeSeconds})`,
    )
    .action(async (flags) => {
      const config = configFrom(flags);
      const maxAgeSeconds = flags.maxAge === undefined
        ? DEFAULT_HEALTH_OPTIONS.maxAgeSeconds
        : Number(flags.maxAge);
      if (!(maxAgeSeconds > 0) || !Number.isFinite(maxAgeSeconds)) {
        throw new ConfigError(`--max-age: "${flags.maxAge}" must be a positive number of seconds`);
      }
      const tty = Deno.stdout.isTerminal();
      const controller = new AbortController();
      const stop = () => controller.abort();
      const signals: Deno.Signal[] = ["SIGINT", "SIGTERM", "SIGHUP"];
      for (const sig of signals) Deno.addSignalListener(sig, stop);
      try {
        await runMonitor({
          dataDir: config.dataDir,
          signal: controller.signal,
          tty,
          color: tty && !Deno.env.get("NO_COLOR"),
          once: flags.once ?? false,
          maxAgeSeconds,
        });
      } finally {
        for (const sig of signals) Deno.removeSignalListener(sig, stop);
      }
    });
}
