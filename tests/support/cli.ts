/**
 * Runs the real btcfeed CLI as a subprocess, exactly as `deno task btcfeed` does (same
 * permissions), so end-to-end tests exercise argument parsing, exit codes and signals.
 */

import { fileURLToPath as fromFileUrl } from "node:url";

const MAIN = fromFileUrl(new URL("../../main.ts", import.meta.url));
const ROOT = fromFileUrl(new URL("../../", import.meta.url));
/** The permissions of the `btcfeed` task in deno.json. */
export const BTCFEED_PERMISSIONS = [
  "--cached-only",
  "--no-prompt",
  "--allow-net",
  "--allow-read",
  "--allow-write",
  "--allow-env",
  "--allow-sys",
  "--allow-run=kill,redis-server",
];

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** A clean environment: no BTCFEED_* from the caller, JSON logs. */
function baseEnv(env: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(Deno.env.toObject())) {
    if (!k.startsWith("BTCFEED_")) out[k] = v;
  }
  return { ...out, NO_COLOR: "1", ...env };
}

function command(args: string[], env: Record<string, string>, piped: boolean) {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", ...BTCFEED_PERMISSIONS, MAIN, ...args],
    cwd: ROOT,
    env: baseEnv(env),
    clearEnv: true,
    stdin: "null",
    stdout: "piped",
    stderr: piped ? "piped" : "null",
  });
}

/** Runs `btcfeed <args>` to completion. */
export async function runCli(
  args: string[],
  env: Record<string, string> = {},
): Promise<CliResult> {
  const out = await command(args, env, true).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/** A long-running btcfeed process (e.g. `stream`) whose log lines are collected. */
export interface CliProcess {
  readonly pid: number;
  /** Every stderr line so far. */
  readonly lines: string[];
  /** Resolves when a stderr line matches, or rejects after `timeoutMs`. */
  waitForLine(pattern: RegExp, timeoutMs?: number): Promise<string>;
  /** SIGTERM and wait: the graceful path. */
  stop(): Promise<Deno.CommandStatus>;
  /** Sends a signal now (e.g. SIGKILL, SIGSTOP). */
  kill(signal: Deno.Signal): void;
  readonly status: Promise<Deno.CommandStatus>;
}

export function spawnCli(
  args: string[],
  env: Record<string, string> = {},
): CliProcess {
  const child = command(args, env, true).spawn();
  const lines: string[] = [];
  const waiters: { re: RegExp; resolve: (l: string) => void }[] = [];
  const pump = (async () => {
    let buffer = "";
    for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) {
      buffer += chunk;
      let nl;
      while ((nl = buffer.indexOf("\n")) >= 0) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        lines.push(line);
        for (const w of [...waiters]) {
          if (w.re.test(line)) {
            waiters.splice(waiters.indexOf(w), 1);
            w.resolve(line);
          }
        }
      }
    }
  })();
  const drainStdout = child.stdout.cancel();
  const status = Promise.all([child.status, pump, drainStdout]).then(([s]) => s);
  let exited = false;
  status.then(() => exited = true);
  return {
    pid: child.pid,
    lines,
    status,
    waitForLine(re, timeoutMs = 20_000) {
      const found = lines.find((l) => re.test(l));
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.splice(waiters.indexOf(entry), 1);
          reject(
            new Error(
              `no log line matching ${re} within ${timeoutMs} ms:\n${lines.slice(-20).join("\n")}`,
            ),
          );
        }, timeoutMs);
        const entry = {
          re,
          resolve: (l: string) => {
            clearTimeout(timer);
            resolve(l);
          },
        };
        waiters.push(entry);
      });
    },
    async stop() {
      if (!exited) {
        try {
          child.kill("SIGCONT");
          child.kill("SIGTERM");
        } catch { /* gone */ }
      }
      return await status;
    },
    kill(signal) {
      if (!exited) child.kill(signal);
    },
  };
}

/** Polls `check` until it returns a truthy value or `timeoutMs` passes. */
export async function waitFor<T>(
  check: () => T | Promise<T>,
  timeoutMs = 20_000,
  what = "condition",
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v) return v as NonNullable<T>;
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}
