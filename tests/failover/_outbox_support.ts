/** Shared helpers for the outbox and lease tests: deterministic trades and child processes. */

import { entryIdFor, type Trade } from "../../lib/trade.ts";

/** Trade number `i` of `market`, deterministic; every 5th has an entry ID not derived from ts. */
export function testTrade(i: number, market = "binance:BTC-USDT"): Trade {
  const ts = 1_700_000_000_000 + i * 7;
  const tradeId = String(5_000_000_000 + i);
  return {
    market,
    tradeId,
    price: `117${String(i % 1000).padStart(3, "0")}.${i % 100}`,
    size: `0.${String(i + 1).padStart(8, "0")}`,
    side: i % 2 ? "buy" : "sell",
    ts,
    receivedAt: ts + 3,
    id: i % 5 === 4 ? entryIdFor(ts + 1, tradeId) : entryIdFor(ts, tradeId),
  };
}

/** The trade index that {@link testTrade} encoded in `t`. */
export function indexOf(t: Trade): number {
  return Number(t.tradeId) - 5_000_000_000;
}

/** A temporary directory removed after `fn`, even when it throws. */
export async function withTempDir(fn: (dir: string) => Promise<void> | void): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "btcfeed-outbox-test-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

const CHILD = new URL("./_outbox_child.ts", import.meta.url).pathname;

/** A running `_outbox_child.ts`, with its stdout as lines. */
export interface Child {
  pid: number;
  lines: string[];
  /** Resolves with the next line that matches, or null at EOF. */
  waitFor(re: RegExp): Promise<string | null>;
  kill(signal: Deno.Signal): void;
  /** Closes stdin and waits for the exit (and for stdout to drain). */
  finish(): Promise<Deno.CommandStatus>;
}

/** Starts `_outbox_child.ts <args>` with the `btcfeed` task's file, sys and run permissions. */
export function spawnChild(args: string[]): Child {
  const proc = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--cached-only",
      "--quiet",
      ...["--allow-read", "--allow-write", "--allow-env", "--allow-sys", "--allow-run=kill"],
      CHILD,
      ...args,
    ],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const lines: string[] = [];
  const waiters: (() => void)[] = [];
  let eof = false;
  const reading = (async () => {
    let buf = "";
    for await (const chunk of proc.stdout.pipeThrough(new TextDecoderStream())) {
      buf += chunk;
      let nl;
      while ((nl = buf.indexOf("\n")) >= 0) {
        lines.push(buf.slice(0, nl));
        buf = buf.slice(nl + 1);
      }
      waiters.splice(0).forEach((w) => w());
    }
    eof = true;
    waiters.splice(0).forEach((w) => w());
  })();
  let seen = 0;
  let stdinClosed = false;
  const closeStdin = async () => {
    if (stdinClosed) return;
    stdinClosed = true;
    await proc.stdin.close().catch(() => {});
  };
  return {
    pid: proc.pid,
    lines,
    async waitFor(re) {
      while (true) {
        while (seen < lines.length) {
          const line = lines[seen++];
          if (re.test(line)) return line;
        }
        if (eof) return null;
        await new Promise<void>((r) => waiters.push(r));
      }
    },
    kill(signal) {
      try {
        proc.kill(signal);
      } catch { /* already exited */ }
    },
    async finish() {
      await closeStdin();
      const status = await proc.status;
      await reading;
      return status;
    },
  };
}
