/**
 * `deno task chaos [--seed N] [--duration SECONDS] [--rate TRADES_PER_S]`: a seeded random fault
 * schedule; prints `chaos: <n> trades, <f> faults, 0 lost, 0 duplicated, 0 reordered` and exits
 * non-zero on any loss, duplicate, reorder or corrupt candle.
 */

import { parseArgs } from "node:util";
import { clean, runChaos } from "./chaos.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    seed: { type: "string", default: String(Date.now() % 100_000) },
    duration: { type: "string", default: "120" },
    rate: { type: "string", default: "1000" },
  },
});
const seed = Number(values.seed);
console.log(`chaos: seed ${seed}, ${values.duration} s, ${values.rate} trades/s`);
const result = await runChaos({
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
