import assert from "node:assert/strict";
import { APPLY_SCRIPT } from "../../lib/redis/apply_script.ts";
import { BTC_SCRIPT } from "../../lib/redis/btc_script.ts";
import { writePathCommands } from "../../lib/redis/write_probe.ts";

Deno.test("the write probe asks the ACL about every command the write scripts run", () => {
  const source = APPLY_SCRIPT + BTC_SCRIPT;
  const used = new Set([...source.matchAll(/redis\.call\('([A-Z]+)'/g)].map((m) => m[1]));
  assert.ok(used.has("HMGET") && used.has("XADD"), [...used].join(" "));
  assert.ok(used.size >= 10, [...used].join(" "));
  const probed = new Set(writePathCommands({ prefix: "p", legacyKeys: true }).map((c) => c[0]));
  for (const command of used) assert.ok(probed.has(command), `${command} is not probed`);
});
