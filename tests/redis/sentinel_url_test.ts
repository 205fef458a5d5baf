import { deepStrictEqual as assertEquals, match, ok } from "node:assert/strict";
import { parseRedisUrl, redisOptions, RedisUrlError } from "../../lib/redis/url.ts";
import { ConfigError, resolveConfig } from "../../lib/config.ts";
import { runCli } from "../support/cli.ts";
import { testTls } from "../support/redis_server.ts";

Deno.test("a Sentinel URL names its sentinels, the master, the db and the data nodes' ACL user", () => {
  const u = parseRedisUrl(
    "redis+sentinel://app:p%40ss@10.0.0.1:26380,sentinel-b,[::1]:26381/mymaster/3",
    "--primary",
  );
  assertEquals(u.sentinel, {
    nodes: [
      { host: "10.0.0.1", port: 26380 },
      { host: "sentinel-b", port: 26379 },
      { host: "::1", port: 26381 },
    ],
    masterName: "mymaster",
  });
  assertEquals([u.tls, u.db, u.username, u.password], [false, 3, "app", "p@ss"]);
  assertEquals(
    u.redacted,
    "redis+sentinel://app:***@10.0.0.1:26380,sentinel-b,[::1]:26381/mymaster/3",
  );
  assertEquals(parseRedisUrl("rediss+sentinel://h/m", "X").tls, true);
  assertEquals(parseRedisUrl("redis+sentinel://h/m", "X").db, 0);
  assertEquals(parseRedisUrl("redis://h", "X").sentinel, undefined);
});

Deno.test("bad Sentinel URLs give a one-line error naming the source and never the password", () => {
  const cases: [string, RegExp][] = [
    ["redis+sentinel://u:hunter2@h1:26379,h2:26379", /missing master name/],
    ["redis+sentinel://u:hunter2@h1:26379/", /missing master name/],
    ["redis+sentinel://u:hunter2@h1,,h2/m", /missing host/],
    ["redis+sentinel://u:hunter2@h1:0/m", /port must be 1\.\.65535/],
    ["redis+sentinel://u:hunter2@h1/m/x", /database must be a number/],
    ["redis+sentinel://u:hunter2@h1/m/1/2", /database must be a number/],
    ["redis+sentinel://u:hunter2@h1/m%20x", /bad master name/],
    ["redis+sentinel://u:hunter2@h1/m?sentinelPassword=x", /query and fragment/],
    ["redis+cluster2://u:hunter2@h1:7000", /unsupported scheme "redis\+cluster2"/],
  ];
  for (const [text, re] of cases) {
    let error: unknown;
    try {
      parseRedisUrl(text, "--failover");
    } catch (e) {
      error = e;
    }
    ok(error instanceof RedisUrlError, text);
    match(error.message, re, text);
    match(error.message, /^--failover: /);
    ok(!error.message.includes("hunter2") && !error.message.includes("\n"), error.message);
  }
});

Deno.test("a Sentinel URL builds ioredis' own Sentinel client that only accepts the master", () => {
  const o = redisOptions(parseRedisUrl("redis+sentinel://u:p@h1:26380,h2/mymaster/2", "X"), {
    sentinelPassword: "s3cret",
    commandTimeoutMs: 400,
  });
  assertEquals(o.sentinels, [{ host: "h1", port: 26380 }, { host: "h2", port: 26379 }]);
  assertEquals([o.name, o.role, o.sentinelPassword], ["mymaster", "master", "s3cret"]);
  assertEquals([o.db, o.username, o.password], [2, "u", "p"]);
  assertEquals([o.failoverDetector, o.sentinelCommandTimeout], [true, 400]);
  assertEquals([o.enableOfflineQueue, o.maxRetriesPerRequest], [false, 0]);
  assertEquals(o.tls, undefined);
  assertEquals(o.enableTLSForSentinelMode, undefined);
});

Deno.test("rediss+sentinel:// verifies both the sentinels and the master, with no fixed SNI", () => {
  const pem = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
  const o = redisOptions(parseRedisUrl("rediss+sentinel://sentinel.example.com/m", "X"), {
    tlsCaPem: pem,
  });
  // The master's address comes from the sentinels at connect time; node checks it then.
  assertEquals(o.tls, { rejectUnauthorized: true, ca: pem });
  assertEquals(o.sentinelTLS, { rejectUnauthorized: true, ca: pem });
  assertEquals(o.enableTLSForSentinelMode, true);
});

Deno.test("BTCFEED_TLS_CA holds a file path or the PEM text itself; the Sentinel password comes from the environment", async () => {
  const tls = await testTls();
  const pem = await Deno.readTextFile(tls.caFile);
  const fromFile = resolveConfig({}, { BTCFEED_TLS_CA: tls.caFile });
  assertEquals([fromFile.tlsCaFile, fromFile.tlsCaPem], [tls.caFile, null]);
  const fromText = resolveConfig({}, { BTCFEED_TLS_CA: pem, BTCFEED_SENTINEL_PASSWORD: "pw" });
  assertEquals([fromText.tlsCaFile, fromText.tlsCaPem], [null, pem.trim() + "\n"]);
  assertEquals(fromText.sentinelPassword, "pw");
  assertEquals(resolveConfig({}, {}).sentinelPassword, null);
  let error: unknown;
  try {
    resolveConfig({}, { BTCFEED_TLS_CA: "-----BEGIN CERTIFICATE-----\nno end" });
  } catch (e) {
    error = e;
  }
  ok(error instanceof ConfigError);
  match(error.message, /^BTCFEED_TLS_CA: PEM text must hold/);
});

Deno.test("a bad Sentinel URL in the environment is one line naming the variable, exit 2, no password", async () => {
  const r = await runCli(["stream"], {
    BTCFEED_PRIMARY_URL: "redis+sentinel://u:hunter2@h1:26379",
  });
  assertEquals(r.code, 2, r.stderr);
  const lines = r.stderr.trim().split("\n");
  assertEquals(lines.length, 1, r.stderr);
  match(lines[0], /BTCFEED_PRIMARY_URL: missing master name/);
  ok(!r.stderr.includes("hunter2") && !r.stdout.includes("hunter2"));
});
