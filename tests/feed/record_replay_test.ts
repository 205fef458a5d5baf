/**
 * The NDJSON recorder and the replay source on their own: what is recorded is what the adapter
 * saw, and a replay feeds it through the same pipeline, reporting truncation and bad lines.
 */

import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { adapterFor } from "../../lib/exchanges/registry.ts";
import { MessageRecorder, recordingAdapter } from "../../lib/feed/recorder.ts";
import { ReplaySource, scanReplayMarkets } from "../../lib/feed/replay_source.ts";
import type { GapRecord } from "../../lib/feed/feed.ts";
import { log } from "../../lib/log.ts";
import type { Trade } from "../../lib/trade.ts";

const binance = adapterFor("binance")!;
const MARKET = { exchange: "binance", base: "BTC", quote: "USDT" };
const NAME = "binance:BTC-USDT";

function tradeMsg(id: number, price = "117250.01000000"): string {
  return `{"e":"trade","E":1785312345679,"s":"BTCUSDT","t":${id},"p":"${price}",` +
    `"q":"0.00125000","T":${1785312345678 + id % 1000},"m":${id % 2 === 0},"M":true}`;
}

function line(t: number, msg: string, market = NAME): string {
  return JSON.stringify({ t, market, msg }) + "\n";
}

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "btcfeed-replay-unit-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Captures log lines for the duration of `fn`. */
async function captureLog<T>(fn: () => Promise<T>): Promise<{ result: T; lines: string[] }> {
  const lines: string[] = [];
  log.configure({ format: "json", level: "info", write: (l) => lines.push(l) });
  try {
    return { result: await fn(), lines };
  } finally {
    log.configure({ level: "error", write: () => {} });
  }
}

async function replay(path: string) {
  const trades: Trade[] = [];
  const gaps: GapRecord[] = [];
  const source = new ReplaySource({
    path,
    markets: [{ market: MARKET, adapter: binance }],
    onTrades: (t) => trades.push(...t),
    onGap: (g) => gaps.push(g),
  });
  const summary = await source.run();
  const snapshot = source.snapshot()[NAME];
  await source.close();
  return { trades, gaps, summary, snapshot };
}

Deno.test("the recorder writes every message the adapter parses, with its receive time and market, whole and in order", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "rec.ndjson");
    const recorder = await MessageRecorder.open(path, { flushIntervalMs: 5 });
    const adapter = recordingAdapter(binance, recorder);
    const texts = Array.from({ length: 300 }, (_, i) => tradeMsg(100 + i));
    texts.push('{"weird": "line\\nwith a newline and \\"quotes\\" é"}');
    for (let i = 0; i < texts.length; i++) {
      const r = adapter.parse(texts[i], MARKET, 1_000 + i);
      if (i < 300) assertEquals(r.trades[0].receivedAt, 1_000 + i);
      if (i % 100 === 0) await new Promise((res) => setTimeout(res, 10));
    }
    await recorder.close();
    const lines = (await Deno.readTextFile(path)).split("\n");
    assertEquals(lines.pop(), "");
    assertEquals(
      lines.map((l) => JSON.parse(l)),
      texts.map((msg, i) => ({ t: 1_000 + i, market: NAME, msg })),
    );
    assertEquals([recorder.written, recorder.dropped], [301, 0]);
  });
});

Deno.test("a recorder whose writes fail (a full disk) stops recording with one error line, and parsing goes on", async () => {
  const child = new URL("./_recorder_full_disk_child.ts", import.meta.url);
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", fileURLToPath(child)],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assertEquals(out.code, 0, new TextDecoder().decode(out.stderr));
  const result = JSON.parse(new TextDecoder().decode(out.stdout));
  assertEquals(result, { parsed: 50, stopped: true, accounted: 50, stopLines: 1 });
});

Deno.test("a replay feeds recorded messages through the pipeline: trades in order with the recorded receive time, duplicates dropped", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "rec.ndjson");
    let text = line(10, '{"result":null,"id":1}');
    for (let i = 0; i < 50; i++) text += line(100 + i, tradeMsg(5_000 + i));
    text += line(200, tradeMsg(5_049)); // an overlap, as after a hand-over
    await Deno.writeTextFile(path, text);
    assertEquals(await scanReplayMarkets(path), [NAME]);
    const { trades, gaps, summary, snapshot } = await replay(path);
    assertEquals(
      trades.map((t) => t.tradeId),
      Array.from({ length: 50 }, (_, i) => String(5_000 + i)),
    );
    assertEquals(trades.map((t) => t.receivedAt), Array.from({ length: 50 }, (_, i) => 100 + i));
    assertEquals(gaps, []);
    assertEquals(summary, { lines: 52, messages: 52, skipped: 0, truncatedAt: null });
    assertEquals([snapshot.trades, snapshot.duplicates, snapshot.state], [50, 1, "down"]);
  });
});

Deno.test("a replay reports an id gap in the recording with its missing count and fetches nothing", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "rec.ndjson");
    const ids = [1, 2, 3, 7, 8];
    await Deno.writeTextFile(path, ids.map((id) => line(100 + id, tradeMsg(id))).join(""));
    const { trades, gaps } = await replay(path);
    assertEquals(trades.map((t) => t.tradeId), ids.map(String));
    assertEquals(
      gaps.map((g) => [g.reason, g.afterTradeId, g.beforeTradeId, g.recovered, g.missing]),
      [
        ["id_gap", "3", "7", 0, 3],
      ],
    );
  });
});

Deno.test("a truncated last line stops the replay there with its byte offset logged; bad and foreign lines are skipped and counted", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "rec.ndjson");
    const head = line(100, tradeMsg(1)) + "not json\n" + line(101, tradeMsg(2), "nope:BTC-USD") +
      line(102, tradeMsg(2)) + line(103, '{"e":"trade","t":') + line(104, tradeMsg(3));
    const offset = new TextEncoder().encode(head).length;
    await Deno.writeTextFile(path, head + line(105, tradeMsg(4)).slice(0, 30));
    const { result, lines } = await captureLog(() => replay(path));
    assertEquals(result.trades.map((t) => t.tradeId), ["1", "2", "3"]);
    assertEquals(result.summary, { lines: 7, messages: 4, skipped: 2, truncatedAt: offset });
    assertEquals(result.snapshot.quarantined, { invalid_json: 1 });
    const truncated = lines.filter((l) => l.includes("replay.truncated")).map((l) => JSON.parse(l));
    assertEquals(truncated.map((l) => l.offset), [offset]);
  });
});

Deno.test("a last line without its newline that is complete is applied, not reported", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "rec.ndjson");
    await Deno.writeTextFile(path, line(100, tradeMsg(1)) + line(101, tradeMsg(2)).trimEnd());
    const { trades, summary } = await replay(path);
    assertEquals(trades.map((t) => t.tradeId), ["1", "2"]);
    assertEquals(summary.truncatedAt, null);
  });
});

Deno.test("a paced replay applies each line no earlier than its recorded offset divided by the speed; unpaced it does not wait", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "rec.ndjson");
    // 1.6 s of recorded time: at ×4 the last line is due 400 ms after the first.
    await Deno.writeTextFile(
      path,
      [0, 800, 1_600].map((dt, i) => line(1_000 + dt, tradeMsg(i + 1))).join(""),
    );
    const arrivals: number[] = [];
    const startedAt = Date.now();
    const source = new ReplaySource({
      path,
      markets: [{ market: MARKET, adapter: binance }],
      onTrades: (t) => arrivals.push(...t.map(() => Date.now() - startedAt)),
      speed: 4,
    });
    await source.run();
    await source.close();
    assertEquals(arrivals.length, 3);
    for (const [i, due] of [0, 200, 400].entries()) {
      if (arrivals[i] < due - 5) throw new Error(`line ${i} at ${arrivals[i]} ms, due at ${due}`);
    }
    const unpacedAt = Date.now();
    await replay(path);
    const unpacedMs = Date.now() - unpacedAt;
    if (unpacedMs >= 300) throw new Error(`unpaced replay took ${unpacedMs} ms`);
  });
});
