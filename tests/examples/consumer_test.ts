/**
 * The README's consumer (examples/consumer.ts) resumes from its saved entry ID: killed and
 * restarted while trades keep arriving, it sees every trade once, in order. The README shows the
 * file verbatim, so what users copy is what this test runs.
 */

import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { join } from "node:path";
import { Redis } from "ioredis";
import { TradeWriter } from "../../lib/redis/writer.ts";
import { makeTrades } from "../redis/_helpers.ts";
import { startRedis } from "../support/redis_server.ts";
import { waitFor } from "../support/cli.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const CONSUMER = join(ROOT, "examples/consumer.ts");
const MARKET = "binance:BTC-USDT";

Deno.test("the README consumer resumes from its saved entry ID without a gap or a repeat", async () => {
  const server = await startRedis();
  const redis = new Redis(server.url, { lazyConnect: true });
  const work = await Deno.makeTempDir({ prefix: "btcfeed-consumer-" });
  const savedFile = join(work, "binance_BTC-USDT.last-id");
  try {
    await redis.connect();
    const writer = new TradeWriter(redis);
    const trades = makeTrades(MARKET, 1, 900);
    const all = () => true;
    await writer.apply(trades.slice(0, 300), all);

    // The example saves its position in its working directory: run it in `work`.
    const run = (cwd: string) => startConsumer(cwd, server.url);
    const first = run(work);
    await waitFor(() => first.ids.length === 300, 20_000, "first 300 trades");
    await writer.apply(trades.slice(300, 600), all);
    await waitFor(() => first.ids.length === 600, 20_000, "next 300 trades");
    await waitFor(
      () => readSaved(savedFile) === trades[599].id,
      10_000,
      "the position saved",
    );
    first.child.kill("SIGKILL");
    await first.child.status;
    await first.done;

    await writer.apply(trades.slice(600), all); // arrive while the consumer is down
    const second = run(work);
    await waitFor(() => second.ids.length === 300, 20_000, "the trades missed while down");
    second.child.kill("SIGKILL");
    await second.child.status;
    await second.done;

    assert.deepEqual([...first.ids, ...second.ids], trades.map((t) => t.id));
  } finally {
    redis.disconnect();
    await server.stop();
    await Deno.remove(work, { recursive: true });
  }
});

Deno.test("the README shows examples/consumer.ts verbatim", () => {
  const readme = Deno.readTextFileSync(join(ROOT, "README.md"));
  const example = Deno.readTextFileSync(CONSUMER);
  assert.ok(
    readme.includes("```ts\n" + example + "```"),
    "README.md must embed examples/consumer.ts",
  );
});

function readSaved(path: string): string | null {
  try {
    return Deno.readTextFileSync(path);
  } catch {
    return null;
  }
}

function startConsumer(cwd: string, url: string) {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--cached-only",
      "--allow-net",
      "--allow-read",
      "--allow-write",
      "--allow-env",
      "--config",
      join(ROOT, "deno.json"),
      CONSUMER,
      MARKET,
    ],
    cwd,
    env: { REDIS_URL: url, NO_COLOR: "1" },
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const ids: string[] = [];
  const done = (async () => {
    let buffer = "";
    for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
      buffer += chunk;
      const lines = buffer.split("\n");
      buffer = lines.pop()!;
      for (const line of lines) ids.push(line.split(" ")[0]);
    }
  })();
  return { child, ids, done };
}
