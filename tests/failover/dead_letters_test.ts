/** The journal's dead-letter methods: live-path dead letters and the retry that puts them back. */

import assert from "node:assert/strict";
import { Journal as Outbox } from "../../lib/store/journal.ts";
import { indexOf, testTrade, withTempDir } from "./_outbox_support.ts";

const trades = (from: number, n: number, market?: string) =>
  Array.from({ length: n }, (_, i) => testTrade(from + i, market));

Deno.test("trades refused on the live path are stored as dead letters without counting in the depth", async () => {
  await withTempDir((dir) => {
    const box = Outbox.open(dir);
    box.append(trades(0, 3));
    const refused = trades(10, 4, "kraken:BTC-USD");
    assert.equal(box.deadLetterTrades(refused, "WRONGTYPE k is a string, not a hash", 7), 4);
    assert.equal(box.depth(), 3);
    assert.deepEqual(box.peek(10).map((r) => indexOf(r.trade)), [0, 1, 2]);
    const dead = box.deadLetters(10);
    assert.deepEqual(dead.map((d) => d.trade), refused);
    assert.ok(dead.every((d) => d.reason.startsWith("WRONGTYPE") && d.at === 7));
    assert.ok(dead[0].seq > box.peek(10).at(-1)!.seq, "they took fresh seqs");
    box.close();
  });
});

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
