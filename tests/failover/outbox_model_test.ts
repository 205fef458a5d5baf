import assert from "node:assert/strict";
import { type AppendOutcome, Outbox, type OutboxRow } from "../../lib/store/outbox.ts";
import type { Trade } from "../../lib/trade.ts";
import { testTrade, withTempDir } from "./_outbox_support.ts";
import { seededRandom } from "../support/rng.ts";

const MAX = 25;
const MARKETS = ["binance:BTC-USDT", "coinbase:BTC-USD", "kraken:BTC-USD"];

/** The outbox as a plain array: what the real one must match after every step. */
class Model {
  rows: OutboxRow[] = [];
  dead: OutboxRow[] = [];
  maxSeq = 0;

  append(batch: Trade[]): AppendOutcome {
    const valid = batch.filter((t) => t.side === "buy" || t.side === "sell");
    const invalid = batch.length - valid.length;
    const fit = Math.min(valid.length, MAX - this.rows.length);
    for (const trade of valid.slice(0, fit)) this.rows.push({ seq: ++this.maxSeq, trade });
    const full = valid.length - fit;
    if (!invalid && !full) return { ok: true, appended: fit };
    return {
      ok: false,
      reason: full ? "full" : "invalid",
      appended: fit,
      dropped: invalid + full,
      message: "",
    };
  }
  peek(limit: number, after: number): OutboxRow[] {
    return this.rows.filter((r) => r.seq > after).slice(0, limit);
  }
  remove(upTo: number): number {
    const before = this.rows.length;
    this.rows = this.rows.filter((r) => r.seq > upTo);
    return before - this.rows.length;
  }
  removeSeqs(seqs: number[]): number {
    const before = this.rows.length;
    this.rows = this.rows.filter((r) => !seqs.includes(r.seq));
    return before - this.rows.length;
  }
  deadLetter(seqs: number[]): number {
    const moving = this.rows.filter((r) => seqs.includes(r.seq));
    this.dead.push(...moving);
    this.dead.sort((a, b) => a.seq - b.seq);
    this.removeSeqs(seqs);
    return moving.length;
  }
}

function runSequence(dir: string, seed: number, steps: number): void {
  const rnd = seededRandom(seed);
  const int = (n: number) => Math.floor(rnd() * n);
  const model = new Model();
  let box = Outbox.open(dir, { maxTrades: MAX });
  let next = 0;
  const someSeq = () =>
    [0, model.maxSeq + 3, ...model.rows.map((r) => r.seq)][int(3 + model.rows.length)] ?? 0;
  const log: string[] = [];
  try {
    for (let step = 0; step < steps; step++) {
      const op = int(100);
      if (op < 35) {
        const batch = Array.from({ length: int(12) }, () => {
          const t = testTrade(next++, MARKETS[int(MARKETS.length)]);
          return int(15) === 0 ? { ...t, side: "?" as "buy" } : t;
        });
        log.push(`append ${batch.length}`);
        const got = box.append(batch);
        const want = model.append(batch);
        assert.deepEqual({ ...got, message: "" }, { ...want, message: "" }, "append outcome");
      } else if (op < 55) {
        const limit = int(20);
        const after = someSeq();
        log.push(`peek ${limit} ${after}`);
        assert.deepEqual(box.peek(limit, after), model.peek(limit, after));
      } else if (op < 72) {
        const upTo = someSeq();
        log.push(`remove ${upTo}`);
        assert.equal(box.remove(upTo), model.remove(upTo));
      } else if (op < 80) {
        const seqs = Array.from({ length: int(4) }, someSeq);
        log.push(`removeSeqs ${seqs}`);
        assert.equal(box.removeSeqs(seqs), model.removeSeqs(seqs));
      } else if (op < 90) {
        const seqs = Array.from({ length: int(3) }, someSeq);
        const rows = seqs.map((seq) => ({ seq, trade: testTrade(0) }));
        log.push(`deadLetter ${seqs}`);
        assert.equal(box.deadLetter(rows, "model"), model.deadLetter(seqs));
      } else {
        log.push("reopen");
        box.close();
        box = Outbox.open(dir, { maxTrades: MAX });
      }
      assert.equal(box.depth(), model.rows.length, "depth");
      assert.equal(box.isFull(), model.rows.length >= MAX, "isFull");
      assert.deepEqual(box.peek(1000), model.rows, "content");
      assert.equal(box.deadLetterCount(), model.dead.length, "dead letters");
    }
    assert.deepEqual(box.deadLetters(1000).map(({ seq, trade }) => ({ seq, trade })), model.dead);
  } catch (e) {
    throw new Error(`seed ${seed}, after: ${log.slice(-8).join(" | ")}`, { cause: e });
  } finally {
    box.close();
  }
}

Deno.test("outbox matches an in-memory model over random append/peek/remove/dead-letter/reopen sequences", async () => {
  const seeds = [1, 2, 3, 4, 5, Date.now() % 100_000];
  for (const seed of seeds) {
    await withTempDir((dir) => runSequence(dir, seed, 400));
  }
});
