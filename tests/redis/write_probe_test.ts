import assert from "node:assert/strict";
import { APPLY_SCRIPT } from "../../lib/redis/apply_script.ts";
import { writePathCommands } from "../../lib/redis/write_probe.ts";

Deno.test("the write probe asks the ACL about every command the apply script runs", () => {
  const used = new Set([...APPLY_SCRIPT.matchAll(/redis\.call\('([A-Z]+)'/g)].map((m) => m[1]));
  assert.ok(used.size >= 10, [...used].join(" "));
  const probed = new Set(writePathCommands({ prefix: "p", legacyKeys: true }).map((c) => c[0]));
  for (const command of used) assert.ok(probed.has(command), `${command} is not probed`);
});
