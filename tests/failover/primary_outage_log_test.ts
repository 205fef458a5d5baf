/**
 * An unreachable primary is logged calmly: the first failure in full, one line per interval while
 * it stays down (not one per probe), and one line with the outage's size when it answers again.
 */

import assert from "node:assert/strict";
import { startRedis } from "../support/redis_server.ts";
import { startProxy } from "../support/tcp_proxy.ts";
import { waitFor } from "../support/cli.ts";
import { resolveConfig } from "../../lib/config.ts";
import { FailoverCore } from "../../lib/failover/core.ts";
import { Journal } from "../../lib/store/journal.ts";
import { closeTarget, openTarget } from "../../lib/failover/targets.ts";
import { log } from "../../lib/log.ts";

Deno.test("a primary that stays unreachable for many probes logs a line per interval, not per probe, and one line when it answers", async () => {
  const primary = await startRedis();
  const proxy = await startProxy({ hostname: "127.0.0.1", port: primary.port });
  await proxy.mode("refuse");
  const dataDir = await Deno.makeTempDir();
  const config = resolveConfig({ primary: proxy.url(), dataDir, deadlineMs: "200" }, {});
  const outbox = Journal.open(dataDir);
  const target = openTarget(config.primaryUrl, "primary", config);
  const lines: Record<string, unknown>[] = [];
  log.configure({ format: "json", level: "info", write: (l) => lines.push(JSON.parse(l)) });
  const intervalMs = 300;
  const core = new FailoverCore({
    primary: target,
    failover: null,
    journal: outbox,
    isConsolidated: () => true,
    holder: "outage-log",
    forced: false,
  }, { deadlineMs: 20, holdDownMs: 100, probeIntervalMs: 10, failureLogIntervalMs: intervalMs });
  const about = (re: RegExp) => lines.filter((l) => re.test(String(l.event)));
  try {
    const t0 = Date.now();
    core.start();
    await new Promise((r) => setTimeout(r, 1_500));
    const downMs = Date.now() - t0;
    const first = about(/^primary redis unhealthy$/);
    assert.equal(first.length, 1, "the first failure, in full");
    assert.equal(first[0].level, "warn");
    assert.match(String(first[0].error), /refused|closed|timed out/i);
    const repeats = about(/^primary redis still unreachable$/);
    assert.ok(
      repeats.length >= 1 && repeats.length <= Math.ceil(downMs / intervalMs),
      `${repeats.length}`,
    );
    const probes = Number(repeats.at(-1)!.attempts);
    assert.ok(
      probes > 5 * (1 + repeats.length),
      `${probes} failed probes, ${repeats.length} lines`,
    );
    for (const r of repeats) {
      assert.match(
        String(r.message),
        /^primary redis still unreachable after \d+ attempts: .+; next try in 0\.01 s$/,
      );
    }

    await proxy.mode("pass");
    await waitFor(() => about(/^primary redis answering$/).length > 0, 10_000, "recovery line");
    const answering = about(/^primary redis answering$/);
    assert.equal(answering.length, 1);
    assert.ok(Number(answering[0].attempts) >= probes);
    assert.match(
      String(answering[0].message),
      /^primary redis reachable again after \d+ attempts \/ [\d.]+ s down$/,
    );
    assert.equal(about(/^primary redis unhealthy$/).length, 1, "still one warning in full");
  } finally {
    await core.close();
    closeTarget(target);
    outbox.close();
    log.configure({ write: (l) => console.error(l) });
    await proxy.stop();
    await primary.stop();
    await Deno.remove(dataDir, { recursive: true });
  }
});
