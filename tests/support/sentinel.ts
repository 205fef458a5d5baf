/**
 * A real Redis Sentinel deployment on loopback for tests: one master, `replicas` replicas (real
 * `redis-server --replicaof`) and `sentinels` real `redis-server <conf> --sentinel` processes.
 *
 * Guarantees:
 * - Every process runs on a free 127.0.0.1 port; sentinel configs live in a temporary directory.
 * - {@link startSentinelGroup} resolves only when every replica is online at the master and every
 *   sentinel knows all replicas and all other sentinels, so a failover is possible at once.
 * - `stop()` SIGKILLs every process by its pid (data nodes through `RedisServer.stop`), waits for
 *   the exits and removes the directory; it is idempotent. Use it in `finally`.
 */

import { join } from "node:path";
import { Redis } from "ioredis";
import { freePort, type RedisServer, startRedis } from "./redis_server.ts";

/** How the group is built. */
export interface SentinelGroupOptions {
  /** @default 2 */
  replicas?: number;
  /** @default 3 */
  sentinels?: number;
  /** Sentinels that must agree the master is down. @default 2 */
  quorum?: number;
  /** `sentinel down-after-milliseconds`. @default 500 */
  downAfterMs?: number;
  /** `sentinel failover-timeout` (a second failover of the same master waits 2x this). @default 1500 */
  failoverTimeoutMs?: number;
}

/** A running Sentinel group. */
export interface SentinelGroup {
  readonly masterName: string;
  /** Data nodes; `nodes[0]` is the first master. */
  readonly nodes: RedisServer[];
  readonly sentinelPorts: number[];
  /** `redis+sentinel://127.0.0.1:p1,.../<masterName>` */
  readonly url: string;
  /** The master's port as the sentinels report it (asks each until one answers). */
  masterPort(): Promise<number>;
  /** Polls until the sentinels report a master other than `oldPort`; resolves with its port. */
  waitForNewMaster(oldPort: number, timeoutMs?: number): Promise<number>;
  /** The data node on `port`. */
  node(port: number): RedisServer;
  stop(): Promise<void>;
}

const MASTER_NAME = "btcfeed-test";
/** Sentinels alive in this process, killed on `unload` if a failed test skipped `stop()`. */
const liveSentinels = new Set<Deno.ChildProcess>();
globalThis.addEventListener("unload", () => {
  for (const child of liveSentinels) {
    try {
      child.kill("SIGKILL");
    } catch { /* already gone */ }
  }
});
const READY_TIMEOUT_MS = 20_000;

/** Starts a master, its replicas and the sentinels that watch them. */
export async function startSentinelGroup(opts: SentinelGroupOptions = {}): Promise<SentinelGroup> {
  const o = {
    replicas: 2,
    sentinels: 3,
    quorum: 2,
    downAfterMs: 500,
    failoverTimeoutMs: 1500,
    ...opts,
  };
  const dir = await Deno.makeTempDir({ prefix: "btcfeed-sentinel-" });
  const nodes: RedisServer[] = [];
  const sentinels: Deno.ChildProcess[] = [];
  const sentinelPorts: number[] = [];
  const stop = async () => {
    for (const child of sentinels.splice(0)) {
      try {
        child.kill("SIGKILL");
      } catch { /* already gone */ }
      await child.status;
      liveSentinels.delete(child);
    }
    for (const node of nodes) await node.stop();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  };
  try {
    const master = await startRedis();
    nodes.push(master);
    for (let i = 0; i < o.replicas; i++) {
      nodes.push(await startRedis({ args: ["--replicaof", "127.0.0.1", String(master.port)] }));
    }
    for (let i = 0; i < o.sentinels; i++) {
      const port = await freePort();
      const conf = join(dir, `sentinel-${port}.conf`);
      await Deno.writeTextFile(
        conf,
        [
          `port ${port}`,
          "bind 127.0.0.1",
          `dir ${dir}`,
          `logfile ${join(dir, `sentinel-${port}.log`)}`,
          `sentinel monitor ${MASTER_NAME} 127.0.0.1 ${master.port} ${o.quorum}`,
          `sentinel down-after-milliseconds ${MASTER_NAME} ${o.downAfterMs}`,
          `sentinel failover-timeout ${MASTER_NAME} ${o.failoverTimeoutMs}`,
          `sentinel parallel-syncs ${MASTER_NAME} 1`,
        ].join("\n") + "\n",
      );
      const child = new Deno.Command("redis-server", {
        args: [conf, "--sentinel"],
        stdin: "null",
        stdout: "null",
        stderr: "null",
      }).spawn();
      sentinels.push(child);
      liveSentinels.add(child);
      sentinelPorts.push(port);
    }
    await waitUntil(() => groupReady(master.port, o.replicas, sentinelPorts), "a ready group");
  } catch (e) {
    await stop();
    throw e;
  }

  const masterPort = async () => {
    for (const port of sentinelPorts) {
      const addr = await askSentinel(port, ["get-master-addr-by-name", MASTER_NAME]);
      if (Array.isArray(addr)) return Number(addr[1]);
    }
    throw new Error("no sentinel answered get-master-addr-by-name");
  };
  return {
    masterName: MASTER_NAME,
    nodes,
    sentinelPorts,
    url: `redis+sentinel://${sentinelPorts.map((p) => `127.0.0.1:${p}`).join(",")}/${MASTER_NAME}`,
    masterPort,
    async waitForNewMaster(oldPort, timeoutMs = READY_TIMEOUT_MS) {
      let port = oldPort;
      await waitUntil(
        async () => (port = await masterPort()) !== oldPort,
        "a new master",
        timeoutMs,
      );
      return port;
    },
    node(port) {
      const node = nodes.find((n) => n.port === port);
      if (!node) throw new Error(`no data node on port ${port}`);
      return node;
    },
    stop,
  };
}

async function groupReady(masterPort: number, replicas: number, sentinelPorts: number[]) {
  const info = await query(masterPort, ["info", "replication"]);
  const online = String(info).match(/state=online/g)?.length ?? 0;
  if (online < replicas) return false;
  for (const port of sentinelPorts) {
    const known = await askSentinel(port, ["replicas", MASTER_NAME]);
    const peers = await askSentinel(port, ["sentinels", MASTER_NAME]);
    if (!Array.isArray(known) || known.length < replicas) return false;
    if (!Array.isArray(peers) || peers.length < sentinelPorts.length - 1) return false;
  }
  return true;
}

function askSentinel(port: number, args: string[]): Promise<unknown> {
  return query(port, ["sentinel", ...args]);
}

/** One command on a short-lived connection; null when the server does not answer. */
async function query(port: number, [command, ...args]: string[]): Promise<unknown> {
  const client = new Redis({
    host: "127.0.0.1",
    port,
    lazyConnect: true,
    connectTimeout: 300,
    commandTimeout: 300,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    enableOfflineQueue: false,
  });
  client.on("error", () => {});
  try {
    await client.connect();
    return await client.call(command, ...args);
  } catch {
    return null;
  } finally {
    client.disconnect();
  }
}

async function waitUntil(
  ok: () => Promise<boolean>,
  what: string,
  timeoutMs = READY_TIMEOUT_MS,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await ok())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
