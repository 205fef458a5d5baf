/** A failover core over a real journal and primary, for the tests in this folder. */

import { resolveConfig } from "../../lib/config.ts";
import { FailoverCore } from "../../lib/failover/core.ts";
import { Journal } from "../../lib/store/journal.ts";
import { closeTarget, openTarget } from "../../lib/failover/targets.ts";
import { log } from "../../lib/log.ts";

/** Runs `fn` with a core on `url` (its own journal in `dir`), closing everything after. */
export async function withCore(
  url: string,
  dir: string,
  replicas: number,
  fn: (core: FailoverCore, journal: Journal) => Promise<void>,
  deadlineMs = 400,
): Promise<void> {
  const config = resolveConfig({ primary: url, dataDir: dir, deadlineMs: String(deadlineMs) }, {});
  const journal = Journal.open(dir);
  const target = openTarget(config.primaryUrl, "primary", config);
  log.configure({ level: "error" });
  const core = new FailoverCore({
    primary: target,
    failover: null,
    journal,
    isConsolidated: () => false,
    holder: `journal-core:${Deno.pid}`,
    forced: false,
  }, { deadlineMs, holdDownMs: 200, probeIntervalMs: 50, replicas });
  core.start();
  try {
    await fn(core, journal);
  } finally {
    await core.close();
    closeTarget(target);
    journal.close();
    log.configure({ level: "info" });
  }
}
