/**
 * A brand-new machine: a clone of the repository with an empty Deno cache (its own DENO_DIR) and
 * no node_modules. `bin/btcfeed` installs the locked dependencies first, announced in at most one
 * line, and nothing else reaches stderr before btcfeed's own one-line error: no download progress.
 */

import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { dirname, join, relative } from "node:path";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const SKIP = new Set([".git", "node_modules", "coverage"]);

/** The repository's files: git's view when there is one, else the tree without build output. */
async function repositoryFiles(): Promise<string[]> {
  const git = await new Deno.Command("git", {
    args: ["ls-files", "-z", "--cached", "--others", "--exclude-standard"],
    cwd: ROOT,
    stdout: "piped",
    stderr: "null",
  }).output().catch(() => null);
  if (git?.success) {
    return new TextDecoder().decode(git.stdout).split("\0").filter((f) =>
      f && !f.startsWith("node_modules/")
    );
  }
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const e of Deno.readDirSync(dir)) {
      if (SKIP.has(e.name)) continue;
      const path = join(dir, e.name);
      if (e.isDirectory) walk(path);
      else if (e.isFile) out.push(relative(ROOT, path));
    }
  };
  walk(ROOT);
  return out;
}

async function freshClone(): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "btcfeed-fresh-" });
  for (const file of await repositoryFiles()) {
    const from = join(ROOT, file);
    try {
      if (!Deno.statSync(from).isFile) continue;
    } catch {
      continue; // deleted in the work tree but still in git's index
    }
    Deno.mkdirSync(dirname(join(dir, file)), { recursive: true });
    Deno.copyFileSync(from, join(dir, file));
  }
  return dir;
}

async function runBin(clone: string, denoDir: string, args: string[]) {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(Deno.env.toObject())) {
    if (!k.startsWith("BTCFEED_") && k !== "DENO_DIR") env[k] = v;
  }
  // bin/btcfeed finds the same Deno that runs this test, first on the PATH.
  env.PATH = `${dirname(Deno.execPath())}:${env.PATH ?? "/usr/bin:/bin"}`;
  const out = await new Deno.Command("bash", {
    args: [join(clone, "bin/btcfeed"), ...args],
    cwd: clone,
    env: { ...env, DENO_DIR: denoDir, NO_COLOR: "1" },
    clearEnv: true,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return {
    code: out.code,
    stdout: dec.decode(out.stdout),
    stderrLines: dec.decode(out.stderr).split("\n").filter((l) => l.length > 0),
  };
}

Deno.test("on a fresh clone with an empty cache, a bad flag prints one install line, then the one-line error", async () => {
  const clone = await freshClone();
  const denoDir = await Deno.makeTempDir({ prefix: "btcfeed-fresh-deno-" });
  try {
    assert.equal(Deno.statSync(join(clone, "deno.lock")).isFile, true);
    const first = await runBin(clone, denoDir, ["stream", "--no-such-flag"]);
    assert.equal(first.code, 2, first.stderrLines.join("\n"));
    assert.equal(first.stdout, "");
    assert.deepEqual(first.stderrLines, [
      "btcfeed: installing locked dependencies (deno install --frozen)",
      "error: unknown option '--no-such-flag'",
    ]);
    assert.equal(Deno.statSync(join(clone, "node_modules")).isDirectory, true);

    // Installed now: the next run prints the error alone.
    const second = await runBin(clone, denoDir, ["stream", "--no-such-flag"]);
    assert.equal(second.code, 2);
    assert.deepEqual(second.stderrLines, ["error: unknown option '--no-such-flag'"]);
  } finally {
    await Deno.remove(clone, { recursive: true });
    await Deno.remove(denoDir, { recursive: true });
  }
});

Deno.test("a lock file that does not match deno.json is an error, not a silent update", async () => {
  const clone = await freshClone();
  const denoDir = await Deno.makeTempDir({ prefix: "btcfeed-fresh-deno-" });
  try {
    const configPath = join(clone, "deno.json");
    const config = JSON.parse(Deno.readTextFileSync(configPath));
    config.imports["picocolors"] = "npm:picocolors@1.0.0";
    Deno.writeTextFileSync(configPath, JSON.stringify(config, null, 2));
    const lockBefore = Deno.readTextFileSync(join(clone, "deno.lock"));
    const run = await runBin(clone, denoDir, ["--version"]);
    assert.notEqual(run.code, 0);
    assert.match(run.stderrLines.join("\n"), /lockfile|frozen/i);
    assert.equal(Deno.readTextFileSync(join(clone, "deno.lock")), lockBefore);
  } finally {
    await Deno.remove(clone, { recursive: true });
    await Deno.remove(denoDir, { recursive: true });
  }
});
