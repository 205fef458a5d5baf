/** `btcfeed failover [--release]`: force writes onto the failover path, or return to automatic. */

import { Command } from "@commander-js/extra-typings";
import { addSharedOptions, configFrom } from "./options.ts";
import { clearControl, readStatus, writeControl } from "../runtime/status.ts";
import { sleep } from "../time.ts";
import { DEFAULT_HEALTH_OPTIONS } from "../health/types.ts";

/** How long to wait for a running stream to act on the request. */
const ACK_TIMEOUT_MS = 3_000;
/** A heartbeat older than this means no stream is running (the same limit as `health`). */
const HEARTBEAT_STALE_MS = DEFAULT_HEALTH_OPTIONS.heartbeatMaxAgeSeconds * 1000;

export function failoverCommand() {
  return addSharedOptions(new Command("failover"))
    .description("force writes onto the failover path (planned primary maintenance), or --release")
    .option(
      "--release",
      "return to automatic mode: the stream syncs the outbox back to the primary",
    )
    .option("--reason <text>", "why, recorded with the request", "planned maintenance")
    .action(async (flags) => {
      const config = configFrom(flags);
      Deno.mkdirSync(config.dataDir, { recursive: true });
      const forced = !flags.release;
      if (forced) writeControl(config.dataDir, { forced, at: Date.now(), reason: flags.reason });
      else clearControl(config.dataDir);
      const what = forced ? "failover forced" : "failover released (automatic mode)";
      const status = readStatus(config.dataDir);
      if (!status || Date.now() - status.heartbeatAt > HEARTBEAT_STALE_MS) {
        console.log(`${what}; no stream is running: it takes effect when one starts`);
        return;
      }
      const deadline = Date.now() + ACK_TIMEOUT_MS;
      while (Date.now() < deadline) {
        const now = readStatus(config.dataDir);
        if (now && now.forced === forced && (!forced || now.mode === "failover")) {
          console.log(`${what}; stream pid ${now.pid} is now in mode ${now.mode}`);
          return;
        }
        await sleep(100);
      }
      console.log(`${what}; the running stream has not acknowledged it yet`);
      Deno.exitCode = 1;
    });
}
