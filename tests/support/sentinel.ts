/**
 * A real Redis Sentinel deployment on loopback for tests: one master, `replicas` replicas (real
 * `redis-server --replicaof`) and `sentinels` real `redis-server <conf> --sentinel` processes.
 *
 * Guarantees:
 * - Every process runs on a free 127.0.0.1 port; sentinel configs live in a temporary directory.
 * - {@link startSentinelGroup} resolves only when every replica is online at the master and every
 *   sentinel knows all replicas and all other sentinels, so a failover is possible at once.
 * - With `proxied`, every data node sits behind its own {@link FaultProxy} and is known to everyone
 *   (sentinels, replicas, btcfeed) only by the proxy's port: replicas replicate through it and
 *   announce it (`replica-announce-port`), sentinels monitor it. `proxy(port).mode("hang")` is then
 *   a real partition of that node: cut from every peer at once, still running, and back, with its
 *   stalled bytes delivered, when the mode returns to `"pass"`.
 * - Replicas authenticate to their master as the ACL user `replicator` (on every node, so any can
 *   be promoted); {@link SentinelGroup.cutReplication} turns it off on one node and drops its
 *   replicas, so that node keeps taking writes that no replica receives.
 * - Protection is opt-in and the default group has none: `sentinelPassword` sets `requirepass`
 *   and `sentinel sentinel-pass` on every sentinel; `dataUser` is an ACL user on every data node
 *   (the `default` user off) that the sentinels and `url` authenticate as; `tls` makes every node
 *   and sentinel listen with TLS only (the test CA of `testTls()`), replicas and sentinels
 *   included (`tls-replication yes`), and `url` a `rediss+sentinel://` URL.
 * - `stop()` SIGKILLs every process by its pid (data nodes through `RedisServer.stop`), stops the
 *   proxies, waits for the exits and removes the directory; it is idempotent. Use it in `finally`.
 */

import { join } from "node:path";
import type { RedisOptions } from "ioredis";
import { freePort, type RedisServer, startRedis, testTls } from "./redis_server.ts";
import { authLines, type Dial, dialOptions, dials, listenLines, query } from "./_sentinel_parts.ts";
import { type FaultProxy, startProxy } from "./tcp_proxy.ts";

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
  /** Put each data node behind its own fault proxy (see the module comment). @default false */
  proxied?: boolean;
  /** `requirepass` of every sentinel, also its `sentinel sentinel-pass`. @default none */
  sentinelPassword?: string;
  /** An ACL user on every data node, the `default` user off; in `url`. @default none */
  dataUser?: { user: string; password: string };
  /** TLS only on every data node and sentinel, with the test CA (`testTls()`). @default false */
  tls?: boolean;
}

/** A running Sentinel group. */
export interface SentinelGroup {
  readonly masterName: string;
  /** Data nodes; `nodes[0]` is the first master. */
  readonly nodes: RedisServer[];
  readonly sentinelPorts: number[];
  /** The port everyone reaches `node` on: its proxy's when proxied, else its own. */
  announced(node: RedisServer): number;
  /** `redis[s]+sentinel://[user:password@]127.0.0.1:p1,.../<masterName>` */
  readonly url: string;
  /** The test CA's PEM path when `tls`. */
  readonly tlsCaFile?: string;
  /** ioredis options (user, password, TLS) a client of one data node needs; `{}` unprotected. */
  readonly dataClientOptions: RedisOptions;
  /** The master's port as the sentinels report it (asks each until one answers). */
  masterPort(): Promise<number>;
  /** Polls until the sentinels report a master other than `oldPort`; resolves with its port. */
  waitForNewMaster(oldPort: number, timeoutMs?: number): Promise<number>;
  /** The data node on `port` (announced or its own). */
  node(port: number): RedisServer;
  /** The proxy in front of the node announced on `port`; throws unless `proxied`. */
  proxy(port: number): FaultProxy;
  /**
   * Stops replication from the node announced on `port`: its `replicator` user is turned off and
   * its replicas dropped; resolves once it reports no connected replica. It keeps taking writes.
   */
  cutReplication(port: number): Promise<void>;
  /** `ROLE` of the node announced on `port`, asked on its own port (past any proxy); null if silent. */
  role(port: number): Promise<{ role: string; masterPort: number | null } | null>;
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
/** Test-only credentials of the replication user; the same on every node. */
const REPLICATOR = ["replicator", "replicator-test-password"] as const;
const REPLICATOR_ARGS = [
  ["--user", REPLICATOR[0], "on", `>${REPLICATOR[1]}`, "~*", "&*", "+@all"],
  ["--masteruser", REPLICATOR[0], "--masterauth", REPLICATOR[1]],
].flat();

/** Starts a master, its replicas and the sentinels that watch them. */
export async function startSentinelGroup(opts: SentinelGroupOptions = {}): Promise<SentinelGroup> {
  const o = {
    replicas: 2,
    sentinels: 3,
    quorum: 2,
    downAfterMs: 500,
    failoverTimeoutMs: 1500,
    proxied: false,
    tls: false,
    ...opts,
  };
  const tls = o.tls ? await testTls() : undefined;
  const protection = { sentinelPassword: o.sentinelPassword, dataUser: o.dataUser, tls };
  const dial = await dials(protection);
  const command = (port: number, args: string[]) => mustQuery(port, args, dial.data);
  const dir = await Deno.makeTempDir({ prefix: "btcfeed-sentinel-" });
  const nodes: RedisServer[] = [];
  /** Per node (same index), its proxy when proxied. */
  const proxies: FaultProxy[] = [];
  const sentinels: Deno.ChildProcess[] = [];
  const sentinelPorts: number[] = [];
  const announced = (node: RedisServer) => proxies[nodes.indexOf(node)]?.port ?? node.port;
  const node = (port: number) => {
    const found = nodes.find((n) => n.port === port || announced(n) === port);
    if (!found) throw new Error(`no data node on port ${port}`);
    return found;
  };
  const stop = async () => {
    for (const proxy of proxies) await proxy.stop();
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
    for (let i = 0; i <= o.replicas; i++) {
      const server = await startRedis({
        args: [...REPLICATOR_ARGS, ...(tls ? ["--tls-replication", "yes"] : [])],
        tls: o.tls,
        aclUser: o.dataUser,
      });
      nodes.push(server);
      if (!o.proxied) continue;
      const proxy = await startProxy({ hostname: "127.0.0.1", port: server.port });
      proxies.push(proxy);
      await command(server.port, ["config", "set", "replica-announce-port", String(proxy.port)]);
    }
    const master = nodes[0];
    const masterAt = String(announced(master));
    for (const replica of nodes.slice(1)) {
      await command(replica.port, ["replicaof", "127.0.0.1", masterAt]);
    }
    for (let i = 0; i < o.sentinels; i++) {
      const port = await freePort();
      const conf = join(dir, `sentinel-${port}.conf`);
      await Deno.writeTextFile(
        conf,
        [
          ...listenLines(port, tls),
          "bind 127.0.0.1",
          `dir ${dir}`,
          `logfile ${join(dir, `sentinel-${port}.log`)}`,
          `sentinel monitor ${MASTER_NAME} 127.0.0.1 ${masterAt} ${o.quorum}`,
          `sentinel down-after-milliseconds ${MASTER_NAME} ${o.downAfterMs}`,
          `sentinel failover-timeout ${MASTER_NAME} ${o.failoverTimeoutMs}`,
          `sentinel parallel-syncs ${MASTER_NAME} 1`,
          ...authLines(MASTER_NAME, protection),
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
    await waitUntil(
      () => groupReady(announced(master), o.replicas, sentinelPorts, dial),
      "a ready group",
    );
  } catch (e) {
    await stop();
    throw e;
  }

  const masterPort = async () => {
    for (const port of sentinelPorts) {
      const addr = await askSentinel(port, ["get-master-addr-by-name", MASTER_NAME], dial.sentinel);
      if (Array.isArray(addr)) return Number(addr[1]);
    }
    throw new Error("no sentinel answered get-master-addr-by-name");
  };
  return {
    masterName: MASTER_NAME,
    nodes,
    sentinelPorts,
    announced,
    url: groupUrl(sentinelPorts, protection),
    tlsCaFile: tls?.caFile,
    dataClientOptions: dialOptions(dial.data),
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
    node,
    proxy(port) {
      const proxy = proxies[nodes.indexOf(node(port))];
      if (!proxy) throw new Error("the group is not proxied");
      return proxy;
    },
    async cutReplication(port) {
      const own = node(port).port;
      await command(own, ["acl", "setuser", REPLICATOR[0], "off"]);
      await command(own, ["client", "kill", "type", "replica"]);
      await waitUntil(
        async () =>
          /connected_slaves:0\b/.test(String(await query(own, ["info", "replication"], dial.data))),
        "replication cut",
      );
    },
    async role(port) {
      const reply = await query(node(port).port, ["role"], dial.data);
      if (!Array.isArray(reply)) return null;
      return { role: String(reply[0]), masterPort: reply[0] === "slave" ? Number(reply[2]) : null };
    },
    stop,
  };
}

/** The group's URL: TLS scheme when `tls`, the data user's credentials when given. */
function groupUrl(
  ports: number[],
  p: { dataUser?: { user: string; password: string }; tls?: unknown },
) {
  const auth = p.dataUser
    ? `${encodeURIComponent(p.dataUser.user)}:${encodeURIComponent(p.dataUser.password)}@`
    : "";
  const hosts = ports.map((port) => `127.0.0.1:${port}`).join(",");
  return `${p.tls ? "rediss" : "redis"}+sentinel://${auth}${hosts}/${MASTER_NAME}`;
}

async function groupReady(
  masterPort: number,
  replicas: number,
  sentinelPorts: number[],
  dial: { data: Dial; sentinel: Dial },
) {
  const info = await query(masterPort, ["info", "replication"], dial.data);
  const online = String(info).match(/state=online/g)?.length ?? 0;
  if (online < replicas) return false;
  for (const port of sentinelPorts) {
    const known = await askSentinel(port, ["replicas", MASTER_NAME], dial.sentinel);
    const peers = await askSentinel(port, ["sentinels", MASTER_NAME], dial.sentinel);
    if (!Array.isArray(known) || known.length < replicas) return false;
    if (!Array.isArray(peers) || peers.length < sentinelPorts.length - 1) return false;
  }
  return true;
}

function askSentinel(port: number, args: string[], dial: Dial): Promise<unknown> {
  return query(port, ["sentinel", ...args], dial);
}

/** Like {@link query}, but a command that must succeed: throws when it does not. */
async function mustQuery(port: number, args: string[], dial: Dial): Promise<void> {
  if (await query(port, args, dial) === null) {
    throw new Error(`${args.join(" ")} failed on :${port}`);
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
