import assert from "node:assert/strict";
import { type AppendOutcome, Journal, type JournalRow } from "../../lib/store/journal.ts";
import { compareEntryIds, type Trade } from "../../lib/trade.ts";
import { testTrade, withTempDir } from "./_outbox_support.ts";
import { seededRandom } from "../support/rng.ts";

const MAX = 25;
const MARKETS = ["binance:BTC-USDT", "coinbase:BTC-USD", "kraken:BTC-USD"];

/**
 * The journal as plain arrays: every row, the dead-lettered seqs and a watermark per market;
 * pending = a row above its market's watermark, not dead. The real journal must match it after
 * every step.
 */
class Model {
  all: JournalRow[] = [];
  deadSeqs = new Set<number>();
  dead: JournalRow[] = [];
  wm = new Map<string, number>();
  maxSeq = 0;

  get rows(): JournalRow[] {
    return this.all.filter((r) => this.#pending(r));
  }
  #pending(r: JournalRow): boolean {
    return r.seq > (this.wm.get(r.trade.market) ?? 0) && !this.deadSeqs.has(r.seq);
  }
  append(batch: Trade[]): AppendOutcome {
    const valid = batch.filter((t) => t.side === "buy" || t.side === "sell");
    const invalid = batch.length - valid.length;
    const fit = Math.max(0, Math.min(valid.length, MAX - this.rows.length));
    for (const trade of valid.slice(0, fit)) {
      if (!this.wm.has(trade.market)) this.wm.set(trade.market, this.maxSeq);
      this.all.push({ seq: ++this.maxSeq, trade });
    }
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
  peek(limit: number, after: number): JournalRow[] {
    return this.rows.filter((r) => r.seq > after).slice(0, limit);
  }
  ack(upTo: number): number {
    const before = this.rows.length;
    const to = Math.min(upTo, this.maxSeq);
    for (const [m, w] of this.wm) this.wm.set(m, Math.max(w, to));
    return before - this.rows.length;
  }
  rewindAfter(market: string, entryId: string): number {
    const w = this.wm.get(market);
    if (w === undefined) return 0;
    const acked = this.all.filter((r) => r.trade.market === market && r.seq <= w).reverse();
    let to = w;
    for (const r of acked) {
      if (compareEntryIds(r.trade.id, entryId) <= 0) break;
      to = r.seq - 1;
    }
    const before = this.rows.length;
    this.wm.set(market, to);
    return this.rows.length - before;
  }
  lastAcked(market: string): number | null {
    const w = this.wm.get(market) ?? 0;
    const rows = this.all.filter((r) =>
      r.trade.market === market && r.seq <= w && !this.deadSeqs.has(r.seq)
    );
    return rows.at(-1)?.seq ?? null;
  }
  deadLetter(seqs: number[]): number {
    const moving = this.rows.filter((r) => seqs.includes(r.seq));
    this.dead.push(...moving);
    this.dead.sort((a, b) => a.seq - b.seq);
    for (const r of moving) this.deadSeqs.add(r.seq);
    return moving.length;
  }
}

function runSequence(dir: string, seed: number, steps: number): void {
  const rnd = seededRandom(seed);
  const int = (n: number) => Math.floor(rnd() * n);
  const model = new Model();
  let box = Journal.open(dir, { maxTrades: MAX });
  let next = 0;
  const someSeq = () =>
    [0, model.maxSeq + 3, ...model.all.map((r) => r.seq)][int(3 + model.all.length)] ?? 0;
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
        log.push(`ack ${upTo}`);
        assert.equal(box.ack(upTo), model.ack(upTo));
      } else if (op < 80) {
        const market = MARKETS[int(MARKETS.length)];
        const some = model.all[int(model.all.length + 1)]?.trade.id ?? "0-0";
        log.push(`rewindAfter ${market} ${some}`);
        assert.equal(box.rewindAfter(market, some), model.rewindAfter(market, some));
      } else if (op < 90) {
        const seqs = Array.from({ length: int(3) }, someSeq);
        const rows = seqs.map((seq) => ({ seq, trade: testTrade(0) }));
        log.push(`deadLetter ${seqs}`);
        assert.equal(box.deadLetter(rows, "model"), model.deadLetter(seqs));
      } else {
        log.push("reopen");
        box.close();
        box = Journal.open(dir, { maxTrades: MAX });
      }
      assert.equal(box.depth(), model.rows.length, "depth");
      assert.equal(box.isFull(), model.rows.length >= MAX, "isFull");
      assert.deepEqual(box.peek(1000), model.rows, "content");
      assert.equal(box.deadLetterCount(), model.dead.length, "dead letters");
      for (const m of MARKETS) {
        assert.equal(box.lastAcked(m)?.seq ?? null, model.lastAcked(m), `lastAcked ${m}`);
        const first = model.all.find((r) => r.trade.market === m);
        assert.equal(box.oldestRetained(m)?.seq ?? null, first?.seq ?? null, `oldest ${m}`);
      }
    }
    assert.deepEqual(box.deadLetters(1000).map(({ seq, trade }) => ({ seq, trade })), model.dead);
  } catch (e) {
    throw new Error(`seed ${seed}, after: ${log.slice(-8).join(" | ")}`, { cause: e });
  } finally {
    box.close();
  }
}

Deno.test("journal matches an in-memory model over random append/peek/ack/rewind/dead-letter/reopen sequences", async () => {
  const seeds = [1, 2, 3, 4, 5, Date.now() % 100_000];
  for (const seed of seeds) {
    await withTempDir((dir) => runSequence(dir, seed, 400));
  }
});
