/**
 * `deno task chaos [--distributed] [--seed N] [--duration SECONDS] [--rate TRADES_PER_S]`: a
 * seeded random fault schedule against one feeder, or with `--distributed` against three feeders
 * of a group on a Sentinel primary (see distributed.ts); prints `chaos: <n> trades, <f> faults, 0 lost, 0 duplicated, 0 reordered` and exits
 * non-zero on any loss, duplicate, reorder or corrupt candle.
 */

import { parseArgs } from "node:util";
import { clean, runChaos } from "./chaos.ts";
import { runDistributedChaos } from "./distributed.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    seed: { type: "string", default: String(Date.now() % 100_000) },
    duration: { type: "string", default: "120" },
    rate: { type: "string", default: "1000" },
    distributed: { type: "boolean", default: false },
  },
});
const seed = Number(values.seed);
const mode = values.distributed ? "distributed: 3 feeders, Sentinel primary" : "one feeder";
console.log(`chaos: ${mode}, seed ${seed}, ${values.duration} s, ${values.rate} trades/s`);
const result = await (values.distributed ? runDistributedChaos : runChaos)({
  seed,
  durationMs: Number(values.duration) * 1000,
  ratePerSec: Number(values.rate),
  log: (l) => console.log(l),
});
console.log(
  `chaos: faults by kind: ${
    Object.entries(result.faultCounts).map(([k, n]) => `${k} ×${n}`).join(", ")
  }`,
);
console.log(result.line);
Deno.exit(clean(result) ? 0 : 1);
