/**
 * The demo's own throw-away `redis-server`: started on a free port of 127.0.0.1 in a directory
 * the demo owns, stopped by its pid.
 *
 * Guarantees: {@link startDemoRedis} resolves only once its own server answers, and returns
 * null when no `redis-server` is on the PATH; if the server does not come up it is killed before
 * the error is thrown. `stop()` sends SIGTERM, SIGKILLs after 5 s, resolves once the process has
 * exited, and is idempotent.
 */

import { join } from "node:path";

const READY_TIMEOUT_MS = 10_000;
const STOP_GRACE_MS = 5_000;

/** A running demo redis-server. */
export interface DemoRedis {
  readonly port: number;
  readonly pid: number;
  readonly url: string;
  /** Stops the server and waits for its exit. Idempotent. */
  stop(): Promise<void>;
}

/**
 * Starts `redis-server` with its data in `dir` (created). `persist` keeps an append-only file
 * there, so a later `redis-server --dir <dir> --appendonly yes` serves the same data.
 * @returns null when no redis-server is on the PATH
 */
export async function startDemoRedis(dir: string, persist: boolean): Promise<DemoRedis | null> {
  await Deno.mkdir(dir, { recursive: true });
  for (let attempt = 0;; attempt++) {
    const port = freePort();
    let child: Deno.ChildProcess;
    try {
      child = new Deno.Command("redis-server", {
        args: [
          ...["--bind", "127.0.0.1", "--port", String(port), "--dir", dir],
          ...["--save", "", "--appendonly", persist ? "yes" : "no"],
          ...["--logfile", join(dir, "redis.log")],
        ],
        stdin: "null",
        stdout: "null",
        stderr: "null",
      }).spawn();
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return null;
      throw e;
    }
    const server = new Server(child, port);
    if (await server.ready()) return server;
    await server.stop();
    // Another process may have taken the port between freePort() and bind: try another.
    if (attempt >= 2) {
      throw new Error(`redis-server did not start on port ${port}: see ${dir}/redis.log`);
    }
  }
}

/** A port that was free on 127.0.0.1 a moment ago. */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

class Server implements DemoRedis {
  readonly port: number;
  readonly url: string;
  #child: Deno.ChildProcess;
  #exited: Promise<Deno.CommandStatus>;
  #alive = true;
  #stopping = false;

  constructor(child: Deno.ChildProcess, port: number) {
    this.#child = child;
    this.port = port;
    this.url = `redis://127.0.0.1:${port}`;
    this.#exited = child.status.finally(() => (this.#alive = false));
    this.#exited.then((st) => {
      if (this.#stopping) return;
      const how = st.signal ? `killed by ${st.signal}` : `exited with code ${st.code}`;
      console.error(`demo: redis-server pid ${child.pid} ${how}, not stopped by the demo`);
    });
  }

  get pid(): number {
    return this.#child.pid;
  }

  async ready(): Promise<boolean> {
    const deadline = Date.now() + READY_TIMEOUT_MS;
    while (this.#alive && Date.now() < deadline) {
      if (await answersAs(this.port, this.pid)) return true;
      await new Promise((r) => setTimeout(r, 25));
    }
    return false;
  }

  async stop(): Promise<void> {
    this.#stopping = true;
    this.#signal("SIGTERM");
    const timer = setTimeout(() => this.#signal("SIGKILL"), STOP_GRACE_MS);
    try {
      await this.#exited;
    } finally {
      clearTimeout(timer);
    }
  }

  #signal(signal: Deno.Signal): void {
    if (!this.#alive) return;
    try {
      this.#child.kill(signal);
    } catch { /* exited meanwhile */ }
  }
}

/**
 * True when the server on `port` answers within 500 ms and is process `pid`: after a lost race
 * for the port, another program's server may answer there, and the demo must not write to it.
 */
async function answersAs(port: number, pid: number): Promise<boolean> {
  let conn: Deno.Conn | undefined;
  const timer = setTimeout(() => conn?.close(), 500);
  try {
    conn = await Deno.connect({ hostname: "127.0.0.1", port });
    await conn.write(new TextEncoder().encode("INFO server\r\n"));
    const buf = new Uint8Array(8192);
    let text = "";
    while (!/process_id:\d+\r\n/.test(text)) {
      const n = await conn.read(buf);
      if (n === null) return false;
      text += new TextDecoder().decode(buf.subarray(0, n));
    }
    return /process_id:(\d+)\r\n/.exec(text)?.[1] === String(pid);
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
    try {
      conn?.close();
    } catch { /* already closed */ }
  }
}
