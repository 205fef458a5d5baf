/**
 * A store written before `primary_reset` existed keeps its pending gap records, in order, and
 * takes `primary_reset` records after it is opened by this version.
 */

import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { join } from "node:path";
import { GapStore } from "../../lib/store/gap_store.ts";
import { STORE_FILE } from "../../lib/store/_sqlite.ts";

const OLD_SCHEMA = `
CREATE TABLE gaps (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  market TEXT NOT NULL,
  detected_at INTEGER NOT NULL,
  reason TEXT NOT NULL CHECK (reason IN ('id_gap', 'disconnect')),
  after_trade_id TEXT NOT NULL,
  before_trade_id TEXT NOT NULL,
  from_ts INTEGER NOT NULL,
  to_ts INTEGER NOT NULL,
  recovered INTEGER NOT NULL,
  missing INTEGER
) STRICT;
CREATE TABLE gap_clock (id INTEGER PRIMARY KEY CHECK (id = 1), ms INTEGER NOT NULL) STRICT;
INSERT INTO gap_clock (id, ms) VALUES (1, 5000);
INSERT INTO gaps VALUES (7, 'binance:BTC-USDT', 4000, 'id_gap', '10', '20', 1, 2, 9, 0);
INSERT INTO gaps VALUES (9, 'kraken:BTC-USD', 5000, 'disconnect', '3', '8', 3, 4, 0, NULL);
`;

Deno.test("an older store keeps its gap records and accepts primary_reset ones", async () => {
  const dir = await Deno.makeTempDir({ prefix: "btcfeed-gaps-" });
  try {
    const old = new DatabaseSync(join(dir, STORE_FILE));
    old.exec(OLD_SCHEMA);
    old.close();
    const store = GapStore.open(dir);
    try {
      const stored = store.append({
        market: "binance:BTC-USDT",
        reason: "primary_reset",
        afterTradeId: "30",
        beforeTradeId: "51",
        fromTs: 10,
        toTs: 20,
        recovered: 0,
        missing: 20,
      }, 6000);
      assert.equal(stored.seq, 10);
      assert.equal(stored.entryId, "6000-10");
      const rows = store.peek(10);
      assert.deepEqual(rows.map((r) => [r.seq, r.gap.reason]), [
        [7, "id_gap"],
        [9, "disconnect"],
        [10, "primary_reset"],
      ]);
    } finally {
      store.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
