/**
 * A separate process for the outbox tests (kill -9 durability, cross-process locking, lease).
 *
 * Usage: `deno run <the btcfeed task's permissions> _outbox_child.ts <mode> <dataDir> [args]`
 * - `append <dataDir> <market> <batches> <batchSize>`: appends trades 0.. of `market` in batches;
 *   after each acknowledged batch prints `committed <lastIndex>`; prints `failed <reason>` and
 *   exits 1 on a failed outcome; `batches` 0 means forever.
 * - `lease <dataDir> <ttlMs>`: tries to take the replay lease once as `child:<pid>:<random>`,
 *   prints `acquired <holder>` or `busy`, then waits until stdin closes.
 */

import { Journal } from "../../lib/store/journal.ts";
import { leaseHolderId } from "../../lib/store/lease.ts";
import { testTrade } from "./_outbox_support.ts";

const [mode, dataDir, ...rest] = Deno.args;
const out = (line: string) => Deno.stdout.writeSync(new TextEncoder().encode(line + "\n"));
const outbox = Journal.open(dataDir);

if (mode === "append") {
  const [market, batchesText, sizeText] = rest;
  const batches = Number(batchesText);
  const size = Number(sizeText);
  let next = 0;
  for (let b = 0; batches === 0 || b < batches; b++) {
    const trades = Array.from({ length: size }, (_, i) => testTrade(next + i, market));
    const outcome = outbox.append(trades);
    if (!outcome.ok) {
      out(`failed ${outcome.reason} ${outcome.message}`);
      Deno.exit(1);
    }
    next += size;
    out(`committed ${next - 1}`);
  }
  outbox.close();
} else if (mode === "lease") {
  const holder = leaseHolderId("child");
  out(outbox.acquireLease(holder, Number(rest[0])) ? `acquired ${holder}` : "busy");
  for await (const _ of Deno.stdin.readable) { /* wait for the parent to close stdin */ }
  outbox.close();
} else {
  throw new Error(`unknown mode ${mode}`);
}
