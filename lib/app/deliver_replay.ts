/**
 * After a `--replay` is consumed: every trade and gap record of it goes to the primary before
 * `stream` exits, however long the primary takes to answer (like a `btcfeed sync` that waits).
 */

import type { Journal } from "../store/journal.ts";
import { confirmReplayed, type RedisTarget } from "../failover/targets.ts";
import type { GapRecorder } from "../failover/gap_recorder.ts";
import { Replayer } from "../failover/replayer.ts";
import { sleep } from "../time.ts";
import { describeRedisError } from "../redis/errors.ts";
import { log } from "../log.ts";
import { holderName } from "./factories.ts";

/** Pause between attempts while the primary fails or another replayer holds the lease. */
const RETRY_MS = 250;

/**
 * Drains the outbox into the primary and flushes the gap records, retrying until both are empty
 * (true) or `stop` aborts (false; everything stays stored). With `replicas.wanted` > 0, a batch
 * counts as written only once `WAIT` confirms that many replicas hold it (as in `sync`).
 */
export async function deliverReplay(
  journal: Journal,
  primary: RedisTarget,
  gaps: GapRecorder,
  consolidated: string | null,
  replicas: { wanted: number; timeoutMs: number },
  stop: AbortSignal,
): Promise<boolean> {
  const replayer = new Replayer(
    journal,
    primary.replayWriter,
    (m) => m === consolidated,
    { holder: holderName("stream") },
    () => confirmReplayed(primary, replicas.wanted, replicas.timeoutMs),
  );
  let waiting = false;
  try {
    while (!stop.aborted) {
      const outcome = await replayer.drain({
        signal: stop,
        busyRetryMs: RETRY_MS,
        errorRetryMs: RETRY_MS,
        onError: (e) => {
          if (!waiting) {
            log.warn("waiting for the primary to write the replay", {
              error: describeRedisError(e, primary.url),
              outboxDepth: journal.depth(),
            });
          }
          waiting = true;
        },
      });
      if (outcome.kind === "drained" && (await gaps.flush())) return true;
      await sleep(RETRY_MS, stop);
    }
    return false;
  } finally {
    replayer.release();
  }
}
