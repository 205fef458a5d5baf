/**
 * `btcfeed monitor` end to end: the real program in a pseudo-terminal (`script`), following a
 * status file the test rewrites, quit with Ctrl-C.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { writeStatus } from "../../lib/runtime/status.ts";
import { ENTER_SCREEN, LEAVE_SCREEN } from "../../lib/monitor/loop.ts";
import { status } from "../health/_status_fixture.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

function env(): Record<string, string> {
  const out: Record<string, string> = { TERM: "xterm-256color" };
  for (const k of ["PATH", "HOME", "DENO_DIR", "XDG_CACHE_HOME"]) {
    const v = Deno.env.get(k);
    if (v) out[k] = v;
  }
  return out;
}

Deno.test("monitor follows the stream in a terminal and restores it on Ctrl-C", async () => {
  const dir = await Deno.makeTempDir({ prefix: "btcfeed-monitor-" });
  writeStatus(dir, status({}, Date.now()));
  // `exec`: no shell in between to be interrupted by the Ctrl-C too.
  const cmd =
    `exec '${Deno.execPath()}' run --cached-only --allow-all --quiet '${join(ROOT, "main.ts")}' ` +
    `monitor --data-dir '${dir}'`;
  const child = new Deno.Command("script", {
    args: ["-qfec", cmd, "/dev/null"],
    cwd: ROOT,
    env: env(),
    clearEnv: true,
    stdin: "piped",
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let screen = "";
  const waitFor = async (re: RegExp, ms: number) => {
    const deadline = Date.now() + ms;
    while (!re.test(screen)) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no ${re} within ${ms} ms; got ${JSON.stringify(screen)}`);
      let timer: ReturnType<typeof setTimeout> | undefined;
      const next = await Promise.race([
        reader.read(),
        new Promise<null>((r) => timer = setTimeout(() => r(null), left)),
      ]);
      clearTimeout(timer);
      if (next && next.done) throw new Error(`monitor ended early: ${JSON.stringify(screen)}`);
      if (next) screen += next.value;
    }
  };
  const writer = child.stdin.getWriter();
  try {
    // A frame may arrive in several reads: wait for its market row, not just its first line.
    await waitFor(/PRIMARY[\s\S]*binance:BTC-USDT/, 10_000);
    assert.ok(screen.includes(ENTER_SCREEN), "alternate screen on a terminal");

    writeStatus(dir, status({ mode: "failover", forced: true }, Date.now()));
    await waitFor(/FAILOVER.*FORCED/, 3_000);

    await writer.write(new TextEncoder().encode("\x03"));
    let timer: ReturnType<typeof setTimeout> | undefined;
    const exit = await Promise.race([
      child.status,
      new Promise<null>((r) => timer = setTimeout(() => r(null), 3_000)),
    ]);
    clearTimeout(timer);
    assert.ok(exit, "monitor quits on Ctrl-C");
    for (let r = await reader.read(); !r.done; r = await reader.read()) screen += r.value;
    assert.equal(exit.code, 0);
    assert.ok(
      screen.lastIndexOf(LEAVE_SCREEN) > screen.lastIndexOf("\x1b[H"),
      "cursor shown and main screen back after the last frame",
    );
  } finally {
    try {
      child.kill("SIGKILL");
    } catch { /* already exited */ }
    await writer.close().catch(() => {});
    await reader.cancel().catch(() => {});
    await child.status;
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("monitor --once off a terminal prints one plain frame and exits 0", async () => {
  const dir = await Deno.makeTempDir({ prefix: "btcfeed-monitor-" });
  try {
    writeStatus(dir, status({ mode: "syncing", sync: { total: 10, done: 5 } }, Date.now()));
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--cached-only",
        "--allow-all",
        "--quiet",
        join(ROOT, "main.ts"),
        "monitor",
        "--once",
        "--data-dir",
        dir,
      ],
      cwd: ROOT,
      env: env(),
      clearEnv: true,
      stdin: "null",
    }).output();
    const text = new TextDecoder().decode(out.stdout);
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    assert.ok(!text.includes("\x1b"));
    assert.equal(text.match(/^btcfeed {2}SYNCING/gm)?.length, 1);
    assert.match(text, /sync 5\/10/);
    assert.ok(text.split("\n").length <= 25);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
