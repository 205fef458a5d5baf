import { ok } from "node:assert/strict";
import { type ChaosOptions, type ChaosResult, clean, runChaos } from "./chaos.ts";
import { runDistributedChaos } from "./distributed.ts";
import { describeVerdict } from "../support/verify.ts";

/** Runs a seeded schedule and asserts at least `minFaults` faults and nothing lost, doubled or reordered. */
async function expectClean(
  run: (o: ChaosOptions) => Promise<ChaosResult>,
  options: Omit<ChaosOptions, "log">,
  minFaults: number,
): Promise<void> {
  const lines: string[] = [];
  const result = await run({ ...options, log: (l) => lines.push(l) });
  console.log(result.line);
  ok(result.faults >= minFaults, `only ${result.faults} faults`);
  ok(clean(result), `${describeVerdict(result.verdict)}\n${lines.join("\n")}`);
}

// The seeds are fixed so a failure reproduces with the command in each test's comment.

Deno.test("a short seeded chaos run loses, duplicates and reorders nothing", async () => {
  // deno task chaos --seed 7 --duration 25 --rate 800
  await expectClean(runChaos, { seed: 7, durationMs: 25_000, ratePerSec: 800 }, 8);
});

Deno.test({
  name:
    "a short distributed chaos run (three feeders, Sentinel primary) loses, duplicates and reorders nothing",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    // deno task chaos --distributed --seed 3 --duration 20 --rate 300
    await expectClean(runDistributedChaos, { seed: 3, durationMs: 20_000, ratePerSec: 300 }, 5);
  },
});
