/**
 * Real `redis-server` processes for tests and benchmarks.
 *
 * Guarantees:
 * - Every server runs on a free ephemeral port on 127.0.0.1 (never 6379), with persistence off
 *   (`--save "" --appendonly no`) unless `args` turn it on, in its own temporary directory.
 * - {@link startRedis} resolves only once the server answers PING (over TLS and with AUTH when
 *   asked); if it cannot start, the process is killed and the error carries the server's log.
 * - `stop()` SIGKILLs (after SIGCONT, so a paused server dies too), waits for the exit, removes the
 *   temporary directory, and is idempotent. Use it in `finally`.
 * - Every pid started by this module is tracked; leftovers are SIGKILLed on `unload` (and on
 *   SIGTERM/SIGHUP, which skip `unload`), so a failed or timed-out test run leaks no redis-server.
 * - TLS material (a test CA and a server certificate for `127.0.0.1`/`localhost`) is generated with
 *   `openssl` once per process and cached; {@link makeOtherCa} makes an unrelated CA for
 *   wrong-CA tests. Clients need no certificate (`--tls-auth-clients no`).
 */

import { join } from "node:path";

const REDIS_SERVER = "redis-server";
const READY_TIMEOUT_MS = 10_000;

/** How to start a test server. */
export interface StartRedisOptions {
  /** Extra redis-server arguments, appended last (they win over the defaults). */
  args?: string[];
  /** Listen with TLS only (`--port 0 --tls-port N`) using the test CA's server certificate. */
  tls?: boolean;
  /** Create this ACL user with all permissions and turn the `default` user off. */
  aclUser?: { user: string; password: string };
  /** Use this port instead of a free one. */
  port?: number;
}

/** A running (or stopped) test redis-server. */
export interface RedisServer {
  readonly port: number;
  /** Pid of the current process (changes on `restart()`). */
  readonly pid: number;
  /** `redis://` or `rediss://`, with `user:password@` when `aclUser` was given. */
  readonly url: string;
  /** The test CA certificate (PEM path) when `tls` is on. */
  readonly tlsCaFile?: string;
  /** The server's temporary working directory (`--dir`); holds `redis.log`. */
  readonly dir: string;
  /** Resolves when the current process exits. */
  readonly exited: Promise<Deno.CommandStatus>;
  /** SIGKILL (after SIGCONT), wait for exit, remove the directory. Idempotent. */
  stop(): Promise<void>;
  /** Sends `signal` to the current process (no-op once it has exited). */
  kill(signal: Deno.Signal): void;
  /** SIGSTOP: the socket stays open but nothing is answered. */
  pause(): void;
  /** SIGCONT. */
  resume(): void;
  /** Stops the current process (if alive) and starts a new one on the same port and directory. */
  restart(): Promise<void>;
}

const livePids = new Set<number>();
const tempDirs = new Set<string>();

function killLeftovers(): void {
  for (const pid of livePids) {
    try {
      Deno.kill(pid, "SIGCONT");
      Deno.kill(pid, "SIGKILL");
    } catch { /* already gone */ }
  }
  livePids.clear();
  for (const dir of tempDirs) {
    try {
      Deno.removeSync(dir, { recursive: true });
    } catch { /* best effort */ }
  }
  tempDirs.clear();
}

globalThis.addEventListener("unload", killLeftovers);
// A runner stopped by a signal (a CI timeout) skips "unload": clean up, then die as asked.
for (const [signal, code] of [["SIGTERM", 143], ["SIGHUP", 129]] as const) {
  try {
    Deno.addSignalListener(signal, () => {
      killLeftovers();
      Deno.exit(code);
    });
  } catch { /* signals unsupported here */ }
}

/** A TCP port that was free on 127.0.0.1 a moment ago. */
export function freePort(): Promise<number> {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return Promise.resolve(port);
}

/** Test TLS material: CA certificate, server certificate and key (PEM paths). */
export interface TlsMaterial {
  dir: string;
  caFile: string;
  certFile: string;
  keyFile: string;
}

let tlsMaterial: Promise<TlsMaterial> | undefined;

/** The cached test CA and a server certificate for 127.0.0.1 and localhost signed by it. */
export function testTls(): Promise<TlsMaterial> {
  tlsMaterial ??= makeTls();
  return tlsMaterial;
}

/** A fresh CA certificate (PEM path) that did NOT sign the test server certificate. */
export async function makeOtherCa(): Promise<string> {
  const dir = await tempDir("btcfeed-otherca-");
  await makeCa(dir);
  return join(dir, "ca.crt");
}

async function makeTls(): Promise<TlsMaterial> {
  const dir = await tempDir("btcfeed-tls-");
  await makeCa(dir);
  const ext = join(dir, "server.ext");
  await Deno.writeTextFile(
    ext,
    "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n" +
      "keyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n",
  );
  await openssl(dir, [
    "req",
    ...["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"],
    ...["-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost"],
  ]);
  await openssl(dir, [
    "x509",
    ...["-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial"],
    ...["-out", "server.crt", "-days", "3650", "-extfile", ext],
  ]);
  return {
    dir,
    caFile: join(dir, "ca.crt"),
    certFile: join(dir, "server.crt"),
    keyFile: join(dir, "server.key"),
  };
}

function makeCa(dir: string): Promise<void> {
  return openssl(dir, [
    "req",
    ...["-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"],
    ...["-keyout", "ca.key", "-out", "ca.crt", "-days", "3650", "-subj", "/CN=btcfeed test CA"],
    ...["-addext", "basicConstraints=critical,CA:TRUE"],
    ...["-addext", "keyUsage=critical,keyCertSign,cRLSign"],
  ]);
}

async function openssl(cwd: string, args: string[]): Promise<void> {
  const out = await new Deno.Command("openssl", { args, cwd, stdin: "null" }).output();
  if (!out.success) {
    throw new Error(`openssl ${args[0]} failed: ${new TextDecoder().decode(out.stderr)}`);
  }
}

async function tempDir(prefix: string): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix });
  tempDirs.add(dir);
  return dir;
}

/**
 * Starts a redis-server and resolves once it answers PING.
 * @throws when it does not become ready within 10 s (the process is killed first).
 */
export async function startRedis(opts: StartRedisOptions = {}): Promise<RedisServer> {
  const tls = opts.tls ? await testTls() : undefined;
  const dir = await tempDir("btcfeed-redis-");
  for (let attempt = 0;; attempt++) {
    const port = opts.port ?? await freePort();
    const server = new TestRedisServer(port, dir, opts, tls);
    try {
      await server.start();
      return server;
    } catch (e) {
      // Another process may have taken the free port between freePort() and bind: try another.
      if (opts.port !== undefined || attempt >= 3 || !String(e).includes("Address already")) {
        await server.stop();
        throw e;
      }
      await server.stopProcessOnly();
    }
  }
}

class TestRedisServer implements RedisServer {
  readonly port: number;
  readonly dir: string;
  readonly url: string;
  readonly tlsCaFile?: string;
  #opts: StartRedisOptions;
  #tls?: TlsMaterial;
  #child?: Deno.ChildProcess;
  #exited: Promise<Deno.CommandStatus> = Promise.resolve({ success: true, code: 0, signal: null });
  #alive = false;
  #removed = false;
  #stderr = "";
  /** Serializes stop() and restart() so overlapping calls cannot race. */
  #ops: Promise<unknown> = Promise.resolve();

  constructor(port: number, dir: string, opts: StartRedisOptions, tls?: TlsMaterial) {
    this.port = port;
    this.dir = dir;
    this.#opts = opts;
    this.#tls = tls;
    this.tlsCaFile = tls?.caFile;
    const auth = opts.aclUser
      ? `${encodeURIComponent(opts.aclUser.user)}:${encodeURIComponent(opts.aclUser.password)}@`
      : "";
    this.url = `${tls ? "rediss" : "redis"}://${auth}127.0.0.1:${port}`;
  }

  get pid(): number {
    return this.#child?.pid ?? -1;
  }

  get exited(): Promise<Deno.CommandStatus> {
    return this.#exited;
  }

  #args(): string[] {
    const args = ["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"];
    args.push("--dir", this.dir, "--logfile", join(this.dir, "redis.log"));
    if (this.#tls) {
      args.push("--port", "0", "--tls-port", String(this.port));
      args.push("--tls-cert-file", this.#tls.certFile, "--tls-key-file", this.#tls.keyFile);
      args.push("--tls-ca-cert-file", this.#tls.caFile, "--tls-auth-clients", "no");
    } else {
      args.push("--port", String(this.port));
    }
    const acl = this.#opts.aclUser;
    if (acl) {
      args.push("--user", "default", "off");
      args.push("--user", acl.user, "on", `>${acl.password}`, "~*", "&*", "+@all");
    }
    return [...args, ...(this.#opts.args ?? [])];
  }

  async start(): Promise<void> {
    const child = new Deno.Command(REDIS_SERVER, {
      args: this.#args(),
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    // Fatal config errors go to stderr before the log file opens; read it to EOF (process exit).
    const stderr = new Response(child.stderr).text().catch(() => "");
    this.#child = child;
    this.#alive = true;
    livePids.add(child.pid);
    this.#exited = child.status.then(async (s) => {
      this.#alive = false;
      livePids.delete(child.pid);
      this.#stderr = (await stderr).trim();
      return s;
    });
    const deadline = Date.now() + READY_TIMEOUT_MS;
    while (true) {
      if (!this.#alive) {
        await this.#exited;
        throw new Error(`redis-server exited at start: ${this.#stderr || await this.#log()}`);
      }
      if (await this.#pingOnce()) return;
      if (Date.now() > deadline) {
        throw new Error(`redis-server not ready on ${this.port}: ${await this.#log()}`);
      }
      await sleep(20);
    }
  }

  async #log(): Promise<string> {
    try {
      const text = await Deno.readTextFile(join(this.dir, "redis.log"));
      return text.split("\n").filter((l) => l.trim()).slice(-5).join(" | ");
    } catch {
      return "(no log)";
    }
  }

  /** One PING over a raw connection; true on +PONG within 500 ms. */
  async #pingOnce(): Promise<boolean> {
    let conn: Deno.Conn | undefined;
    let timedOut = false;
    // Something else may hold the port and never answer: give up (close) after a while.
    const timer = setTimeout(() => {
      timedOut = true;
      closeQuietly(conn);
    }, 500);
    try {
      conn = this.#tls
        ? await Deno.connectTls({
          hostname: "127.0.0.1",
          port: this.port,
          caCerts: [await Deno.readTextFile(this.#tls.caFile)],
        })
        : await Deno.connect({ hostname: "127.0.0.1", port: this.port });
      if (timedOut) return false;
      const acl = this.#opts.aclUser;
      const cmd = acl ? resp(["AUTH", acl.user, acl.password]) + resp(["PING"]) : resp(["PING"]);
      await conn.write(new TextEncoder().encode(cmd));
      let reply = "";
      const buf = new Uint8Array(256);
      while (!reply.includes("PONG") && !reply.startsWith("-")) {
        const n = await conn.read(buf);
        if (n === null) break;
        reply += new TextDecoder().decode(buf.subarray(0, n));
      }
      return reply.includes("+PONG");
    } catch {
      return false;
    } finally {
      clearTimeout(timer);
      closeQuietly(conn);
    }
  }

  kill(signal: Deno.Signal): void {
    if (!this.#alive || !this.#child) return;
    try {
      this.#child.kill(signal);
    } catch { /* exited meanwhile */ }
  }

  pause(): void {
    this.kill("SIGSTOP");
  }

  resume(): void {
    this.kill("SIGCONT");
  }

  async stopProcessOnly(): Promise<void> {
    this.kill("SIGCONT");
    this.kill("SIGKILL");
    await this.#exited;
  }

  stop(): Promise<void> {
    return this.#serialize(async () => {
      await this.stopProcessOnly();
      if (this.#removed) return;
      this.#removed = true;
      tempDirs.delete(this.dir);
      await Deno.remove(this.dir, { recursive: true }).catch(() => {});
    });
  }

  restart(): Promise<void> {
    return this.#serialize(async () => {
      await this.stopProcessOnly();
      if (this.#removed) throw new Error("restart() after stop()");
      try {
        await this.start();
      } catch (e) {
        await this.stopProcessOnly();
        throw e;
      }
    });
  }

  #serialize(op: () => Promise<void>): Promise<void> {
    const next = this.#ops.then(op, op);
    this.#ops = next.catch(() => {});
    return next;
  }
}

function closeQuietly(conn: Deno.Conn | undefined): void {
  try {
    conn?.close();
  } catch { /* already closed */ }
}

function resp(parts: string[]): string {
  const enc = new TextEncoder();
  return `*${parts.length}\r\n` +
    parts.map((p) => `$${enc.encode(p).length}\r\n${p}\r\n`).join("");
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
