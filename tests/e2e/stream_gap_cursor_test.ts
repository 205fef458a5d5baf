/**
 * A pending gap's saved cursor never gets ahead of the journal: whenever the stream is frozen
 * (SIGSTOP) during a backfill, the cursor a restart would resume after (`pending_gaps`) is at or
 * before the market's last trade committed to the journal. A cursor ahead would make a kill -9
 * at that moment skip the page in between, never to be fetched again.
 */

import { ok } from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { join } from "node:path";
import { waitFor } from "../support/cli.ts";
import { slowGapTape, tradeCount, withEnv } from "./_harness.ts";

const START_ID = 7_000_000;
const GAP = 20_000;

/** The saved cursor and the journal's last committed trade id of `market`, or null. */
function cursorAndJournal(path: string, market: string): [bigint, bigint] | null {
  const db = new DatabaseSync(path, { readOnly: true });
  try {
    const gap = db.prepare("SELECT resume_trade_id AS r FROM pending_gaps WHERE market = ?")
      .get(market);
    const m = db.prepare("SELECT last_trade_id AS t FROM markets WHERE name = ?").get(market);
    return gap && m?.t ? [BigInt(String(gap.r)), BigInt(String(m.t))] : null;
  } finally {
    db.close();
  }
}

Deno.test("binance: at every frozen moment of a backfill, the saved gap cursor is not ahead of the journal", async () => {
  await withEnv([slowGapTape(START_ID, GAP)], async (env) => {
    const fake = env.fakes[0];
    const market = fake.tape[0].market;
    const path = join(env.dataDir, "outbox.sqlite");
    const stream = env.startStream();
    await waitFor(() => !!env.status()?.markets[market]?.recovering, 30_000, "a backfill");
    let checked = 0;
    try {
      while ((await tradeCount(env.client, market)) < fake.tape.length) {
        stream.kill("SIGSTOP");
        try {
          const seen = cursorAndJournal(path, market);
          if (seen) {
            checked++;
            ok(seen[0] <= seen[1], `cursor ${seen[0]} ahead of the journal's ${seen[1]}`);
          }
        } finally {
          stream.kill("SIGCONT");
        }
        await new Promise((r) => setTimeout(r, 5 + Math.random() * 10));
      }
    } finally {
      stream.kill("SIGCONT");
    }
    ok(checked >= 100, `frozen ${checked} times with a gap pending`);
  });
});
