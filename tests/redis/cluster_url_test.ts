/** `redis+cluster://` URLs: parsed into seed nodes, built into ioredis' own Cluster client. */

import { deepStrictEqual as assertEquals, match, ok } from "node:assert/strict";
import { Cluster } from "ioredis";
import { parseRedisUrl, RedisUrlError } from "../../lib/redis/url.ts";
import { clusterOptions } from "../../lib/redis/cluster_options.ts";
import { createClient } from "../../lib/redis/client.ts";
import { ConfigError, resolveConfig } from "../../lib/config.ts";

Deno.test("a Cluster URL names its seed nodes (default port 6379) and the ACL user", () => {
  const u = parseRedisUrl("redis+cluster://app:p%40ss@10.0.0.1:7000,node-b,[::1]:7002", "X");
  assertEquals(u.cluster, {
    nodes: [
      { host: "10.0.0.1", port: 7000 },
      { host: "node-b", port: 6379 },
      { host: "::1", port: 7002 },
    ],
  });
  assertEquals([u.tls, u.db, u.username, u.password], [false, 0, "app", "p@ss"]);
  assertEquals(u.redacted, "redis+cluster://app:***@10.0.0.1:7000,node-b,[::1]:7002");
  assertEquals(parseRedisUrl("rediss+cluster://h:7000", "X").tls, true);
  assertEquals(parseRedisUrl("redis://h", "X").cluster, undefined);
});

Deno.test("bad Cluster URLs give a one-line error naming the source and never the password", () => {
  for (
    const [text, re] of [
      ["redis+cluster://u:hunter2@h1:7000/0", /a cluster has no database number/],
      ["redis+cluster://u:hunter2@h1:7000,,h2", /missing host/],
      ["redis+cluster://u:hunter2@h1:70000", /port must be 1\.\.65535/],
    ] as const
  ) {
    let error: unknown;
    try {
      parseRedisUrl(text, "--primary");
    } catch (e) {
      error = e;
    }
    ok(error instanceof RedisUrlError, text);
    match(error.message, re);
    match(error.message, /^--primary: /);
    ok(!error.message.includes("hunter2") && !error.message.includes("\n"), error.message);
  }
});

Deno.test("a Cluster URL builds ioredis' Cluster client: masters only, no offline queue, deadlines and TLS on its nodes", () => {
  const url = parseRedisUrl("rediss+cluster://u:p@127.0.0.1:7000,127.0.0.1:7001", "X");
  const { nodes, options } = clusterOptions(url, { commandTimeoutMs: 400, tlsCaPem: "PEM" });
  assertEquals(nodes, [{ host: "127.0.0.1", port: 7000 }, { host: "127.0.0.1", port: 7001 }]);
  assertEquals([options.scaleReads, options.enableOfflineQueue, options.lazyConnect], [
    "master",
    false,
    true,
  ]);
  const node = options.redisOptions!;
  assertEquals([node.username, node.password, node.commandTimeout], ["u", "p", 400]);
  assertEquals(node.tls, { rejectUnauthorized: true, ca: "PEM", servername: undefined });
  const client = createClient(url, { tlsCaPem: "PEM" });
  ok(client instanceof Cluster);
  client.disconnect();
});

Deno.test("--legacy-keys with a Cluster primary or failover is a one-line configuration error", () => {
  for (
    const flags of [{ primary: "redis+cluster://h:7000" }, { failover: "rediss+cluster://h:1" }]
  ) {
    let error: unknown;
    try {
      resolveConfig({ ...flags, legacyKeys: true }, {});
    } catch (e) {
      error = e;
    }
    ok(error instanceof ConfigError);
    match(error.message, /^--legacy-keys: the legacy keys cannot be written to a Redis Cluster/);
  }
  ok(resolveConfig({ primary: "redis+cluster://h:7000" }, {}).primaryUrl);
});
