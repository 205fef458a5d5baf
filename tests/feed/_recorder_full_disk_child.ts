/**
 * Run with `--allow-all` (Deno grants /dev/full only to it): records 50 messages to /dev/full,
 * whose every write fails with ENOSPC, and prints what happened as JSON.
 */

import { adapterFor } from "../../lib/exchanges/registry.ts";
import { MessageRecorder, recordingAdapter } from "../../lib/feed/recorder.ts";
import { log } from "../../lib/log.ts";

const lines: string[] = [];
log.configure({ format: "json", level: "info", write: (l) => lines.push(l) });
const recorder = await MessageRecorder.open("/dev/full", { flushIntervalMs: 5 });
const adapter = recordingAdapter(adapterFor("binance")!, recorder);
let parsed = 0;
for (let i = 0; i < 50; i++) {
  const msg = `{"e":"trade","E":1785312345679,"s":"BTCUSDT","t":${i},"p":"117250.01",` +
    `"q":"0.00125000","T":${1785312345678 + i},"m":true,"M":true}`;
  parsed +=
    adapter.parse(msg, { exchange: "binance", base: "BTC", quote: "USDT" }, i).trades.length;
  await new Promise((r) => setTimeout(r, 2));
}
await recorder.close();
console.log(JSON.stringify({
  parsed,
  stopped: recorder.stopped,
  accounted: recorder.written + recorder.dropped,
  stopLines: lines.filter((l) => l.includes("recording stopped")).length,
}));
