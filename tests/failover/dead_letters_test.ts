/** The journal's dead-letter methods: the retry that puts dead letters back. */

import assert from "node:assert/strict";
import { Journal as Outbox } from "../../lib/store/journal.ts";
import { indexOf, testTrade, withTempDir } from "./_outbox_support.ts";

const trades = (from: number, n: number, market?: string) =>
  Array.from({ length: n }, (_, i) => testTrade(from + i, market));

Deno.test("a retry puts every dead letter back under its own seq, ahead of newer rows (the acknowledged rows after it are re-sent), only for the lease holder", async () => {
  await withTempDir((dir) => {
    const box = Outbox.open(dir);
    box.append(trades(0, 6));
    const rows = box.peek(6);
    box.deadLetter([rows[1], rows[2]], "WRONGTYPE x");
    box.ack(rows[5].seq); // the rest was replayed
    box.append(trades(6, 2)); // newer rows arrived since
    assert.equal(box.retryDeadLetters("me"), null, "no lease: nothing moves");
    assert.equal(box.deadLetterCount(), 2);

    assert.ok(box.acquireLease("other", 60_000));
    assert.equal(box.retryDeadLetters("me"), null, "someone else's lease: nothing moves");
    box.releaseLease("other");
    assert.ok(box.acquireLease("me", 60_000));
    assert.deepEqual(box.retryDeadLetters("me"), [rows[1].seq, rows[2].seq]);
    assert.equal(box.deadLetterCount(), 0);
    // The watermark moved back to just before the oldest letter: 3..5 are re-sent (no-ops).
    assert.equal(box.depth(), 7);
    assert.deepEqual(box.peek(10).map((r) => indexOf(r.trade)), [1, 2, 3, 4, 5, 6, 7]);
    assert.deepEqual(box.peek(2).map((r) => r.seq), [rows[1].seq, rows[2].seq]);
    assert.deepEqual(box.peek(2).map((r) => r.trade), [rows[1].trade, rows[2].trade]);
    box.close();
  });
});
