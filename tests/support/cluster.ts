/**
 * A real Redis Cluster for tests: six `redis-server` processes in cluster mode on free ports
 * (data port and cluster-bus port each free, `--cluster-port`), joined by
 * `redis-cli --cluster create ... --cluster-replicas 1 --cluster-yes`: three masters with one
 * replica each.
 *
 * Guarantees:
 * - {@link startCluster} resolves once every node reports `cluster_state:ok`, sees six nodes,
 *   and every replica's link to its master is up; on failure every process started is stopped.
 * - Nodes are {@link RedisServer}s (redis_server.ts): `stop()` SIGKILLs by pid and removes the
 *   node's directory (its `nodes.conf` included); leftovers are killed on unload like any server.
 * - {@link ClusterRig.migrateSlot} moves one slot from its master to another with
 *   `CLUSTER SETSLOT IMPORTING/MIGRATING`, `MIGRATE` key by key (pausing between keys, so writes
 *   hit the slot mid-migration: ASK and TRYAGAIN), then `SETSLOT NODE` on every master.
 */

import { Cluster, Redis } from "ioredis";
import { freePort, type RedisServer, startRedis } from "./redis_server.ts";

const READY_TIMEOUT_MS = 30_000;

/** One node of the cluster and a direct client to it. */
export interface ClusterNode {
  server: RedisServer;
  client: Redis;
}

/** A running cluster. */
export interface ClusterRig {
  nodes: ClusterNode[];
  /** `redis+cluster://127.0.0.1:p1,127.0.0.1:p2,127.0.0.1:p3` (three seeds). */
  url: string;
  /** A cluster client (reads the primary as a test would). */
  client: Cluster;
  /** The node currently master of `slot` (asked of every live node; the majority's answer). */
  masterOf(slot: number): Promise<ClusterNode>;
  /** Waits for every live node to report `cluster_state:ok`. */
  waitOk(timeoutMs?: number): Promise<void>;
  /** Moves `slot` to `to`, pausing `pauseMs` between keys. */
  migrateSlot(slot: number, to: ClusterNode, pauseMs?: number): Promise<number>;
  /** Stops every node (SIGKILL by pid) and the clients. */
  stop(): Promise<void>;
}

async function nodeId(n: ClusterNode): Promise<string> {
  return String(await n.client.call("CLUSTER", "MYID"));
}

function alive(n: ClusterNode): Promise<boolean> {
  return n.client.ping().then(() => true, () => false);
}

/** Starts six nodes and creates the cluster. */
export async function startCluster(): Promise<ClusterRig> {
  const nodes: ClusterNode[] = [];
  const stop = async () => {
    for (const n of nodes) n.client.disconnect();
    await Promise.all(nodes.map((n) => n.server.stop()));
  };
  try {
    for (let i = 0; i < 6; i++) {
      const server = await startRedis({
        args: [
          "--cluster-enabled",
          "yes",
          "--cluster-config-file",
          "nodes.conf",
          "--cluster-port",
          String(await freePort()),
          "--cluster-node-timeout",
          "1000",
          "--cluster-replica-validity-factor",
          "0",
        ],
      });
      const client = new Redis(server.url, { maxRetriesPerRequest: 1, retryStrategy: () => 100 });
      client.on("error", () => {});
      nodes.push({ server, client });
    }
    const create = await new Deno.Command("redis-cli", {
      args: [
        "--cluster",
        "create",
        ...nodes.map((n) => `127.0.0.1:${n.server.port}`),
        "--cluster-replicas",
        "1",
        "--cluster-yes",
      ],
      stdin: "null",
    }).output();
    if (!create.success) {
      throw new Error(`redis-cli --cluster create: ${new TextDecoder().decode(create.stdout)}`);
    }
    const seeds = nodes.slice(0, 3).map((n) => `127.0.0.1:${n.server.port}`).join(",");
    const client = new Cluster(
      nodes.slice(0, 3).map((n) => ({ host: "127.0.0.1", port: n.server.port })),
      { scaleReads: "master", redisOptions: { maxRetriesPerRequest: 2 } },
    );
    client.on("error", () => {});
    const rig: ClusterRig = {
      nodes,
      url: `redis+cluster://${seeds}`,
      client,
      async masterOf(slot) {
        for (const n of nodes) {
          if (!(await alive(n))) continue;
          const shards = await n.client.call("CLUSTER", "SLOTS") as [number, number, unknown[]][];
          for (const [from, to, master] of shards) {
            if (slot < from || slot > to) continue;
            const port = Number((master as unknown[])[1]);
            const found = nodes.find((m) => m.server.port === port);
            if (found) return found;
          }
        }
        throw new Error(`no master for slot ${slot}`);
      },
      async waitOk(timeoutMs = READY_TIMEOUT_MS) {
        const deadline = Date.now() + timeoutMs;
        for (;;) {
          const states = await Promise.all(nodes.map(async (n) => {
            if (!(await alive(n))) return "ok";
            const info = String(await n.client.call("CLUSTER", "INFO").catch(() => ""));
            return /cluster_state:ok/.test(info) ? "ok" : "not ok";
          }));
          if (states.every((s) => s === "ok")) return;
          if (Date.now() > deadline) throw new Error(`cluster not ok: ${states.join(",")}`);
          await new Promise((r) => setTimeout(r, 100));
        }
      },
      async migrateSlot(slot, to, pauseMs = 0) {
        const from = await rig.masterOf(slot);
        const [fromId, toId] = [await nodeId(from), await nodeId(to)];
        await to.client.call("CLUSTER", "SETSLOT", slot, "IMPORTING", fromId);
        await from.client.call("CLUSTER", "SETSLOT", slot, "MIGRATING", toId);
        let moved = 0;
        for (;;) {
          const keys = await from.client.call("CLUSTER", "GETKEYSINSLOT", slot, 1) as string[];
          if (!keys.length) break;
          await from.client.call(
            "MIGRATE",
            "127.0.0.1",
            to.server.port,
            "",
            0,
            10_000,
            "KEYS",
            ...keys,
          );
          moved += keys.length;
          if (pauseMs) await new Promise((r) => setTimeout(r, pauseMs));
        }
        for (const n of nodes) {
          if (!(await alive(n)) || !(await isMaster(n))) continue;
          await n.client.call("CLUSTER", "SETSLOT", slot, "NODE", toId);
        }
        return moved;
      },
      async stop() {
        client.disconnect();
        await stop();
      },
    };
    await rig.waitOk();
    await waitSeen(nodes);
    await waitReplicated(nodes);
    return rig;
  } catch (e) {
    await stop();
    throw e;
  }
}

async function isMaster(n: ClusterNode): Promise<boolean> {
  const role = await n.client.call("ROLE") as unknown[];
  return role[0] === "master";
}

/** Waits until every replica's link to its master is up (so WAIT and failovers work). */
async function waitReplicated(nodes: ClusterNode[]): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    const links = await Promise.all(nodes.map(async (n) => {
      const info = await n.client.info("replication");
      if (/role:master/.test(info)) return /connected_slaves:1/.test(info);
      return /master_link_status:up/.test(info);
    }));
    if (links.every(Boolean)) return;
    if (Date.now() > deadline) throw new Error(`replication not up: ${links.join(",")}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Waits until every node knows all six (gossip done), so a failover can be elected. */
async function waitSeen(nodes: ClusterNode[]): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    const counts = await Promise.all(nodes.map(async (n) => {
      const info = String(await n.client.call("CLUSTER", "INFO"));
      return Number(/cluster_known_nodes:(\d+)/.exec(info)?.[1] ?? 0);
    }));
    if (counts.every((c) => c === 6)) return;
    if (Date.now() > deadline) throw new Error(`nodes see ${counts.join(",")} nodes`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
