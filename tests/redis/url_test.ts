import assert from "node:assert/strict";
import {
  parseRedisUrl,
  reconnectDelayMs,
  redactUrl,
  redisOptions,
  RedisUrlError,
} from "../../lib/redis/url.ts";

Deno.test("valid Redis URLs parse into host, port, db and credentials", () => {
  assert.deepEqual(parseRedisUrl("redis://127.0.0.1:6380/2", "--primary"), {
    tls: false,
    host: "127.0.0.1",
    port: 6380,
    db: 2,
    username: undefined,
    password: undefined,
    redacted: "redis://127.0.0.1:6380/2",
  });
  const u = parseRedisUrl("rediss://alice:p%40ss%3Aw%2Frd@redis.example.com", "--primary");
  assert.equal(u.tls, true);
  assert.equal(u.host, "redis.example.com");
  assert.equal(u.port, 6379);
  assert.equal(u.username, "alice");
  assert.equal(u.password, "p@ss:w/rd");
  assert.equal(u.redacted, "rediss://alice:***@redis.example.com");
  const p = parseRedisUrl("redis://:only-password@[::1]:7000/", "X");
  assert.equal(p.username, undefined);
  assert.equal(p.password, "only-password");
  assert.equal(p.host, "::1");
  assert.equal(p.port, 7000);
  assert.equal(parseRedisUrl("REDIS://h", "X").tls, false);
});

Deno.test("bad Redis URLs give a one-line error naming the source and never the password", () => {
  const cases: [string, RegExp][] = [
    ["http://u:hunter2@h:6379", /unsupported scheme "http"/],
    ["127.0.0.1:6379", /expected redis:\/\//],
    ["redis://u:hunter2@h:0", /port must be 1\.\.65535/],
    ["redis://u:hunter2@h:65536", /port must be 1\.\.65535/],
    ["redis://u:hunter2@h:abc", /port must be 1\.\.65535/],
    ["redis://u:hunter2@:6379", /missing host/],
    ["redis://u:hunter2@h_x:6379", /bad host/],
    ["redis://u:hunter2@h:6379/x", /database must be a number/],
    ["redis://u:hunter2@h:6379?tls=1", /query and fragment/],
    ["redis://u:hunter2%zz@h", /bad percent-encoding/],
    ["redis://u:hun@ter2@h:99999", /port must be/],
    ["redis://u:hunter2\n@h:99999", /port must be/],
    ["redis://[::zz]:6379", /bad IPv6/],
  ];
  for (const [text, re] of cases) {
    const e = (() => {
      try {
        parseRedisUrl(text, "BTCFEED_PRIMARY_URL");
      } catch (e) {
        return e;
      }
    })();
    assert.ok(e instanceof RedisUrlError, text);
    assert.match(e.message, re, text);
    assert.match(e.message, /^BTCFEED_PRIMARY_URL: /);
    assert.equal(e.source, "BTCFEED_PRIMARY_URL");
    assert.ok(!e.message.includes("hunter2") && !e.message.includes("ter2"), e.message);
    assert.ok(!e.message.includes("\n"), e.message);
  }
});

Deno.test("redaction hides passwords even in malformed text", () => {
  assert.equal(redactUrl("redis://u:secret@h:1"), "redis://u:***@h:1");
  assert.equal(redactUrl("redis://:secret@h"), "redis://:***@h");
  assert.equal(redactUrl("redis://secret@h"), "redis://***@h");
  assert.equal(redactUrl("redis://u:sec@ret@h"), "redis://u:***@h");
  assert.equal(redactUrl("redis://u:sec/ret@h/0"), "redis://u:***@h/0");
  assert.equal(redactUrl("u:secret@h:6379"), "u:***@h:6379");
  assert.equal(redactUrl("redis://h:6379/0"), "redis://h:6379/0");
  assert.equal(redactUrl(""), "");
});

Deno.test("client options fail fast, verify TLS by default and only skip it when asked", () => {
  const o = redisOptions(parseRedisUrl("redis://u:p@h:6380/3", "X"), {
    connectTimeoutMs: 700,
    commandTimeoutMs: 400,
  });
  assert.equal(o.lazyConnect, true);
  assert.equal(o.enableOfflineQueue, false);
  assert.equal(o.maxRetriesPerRequest, 0);
  assert.equal(o.autoResubscribe, false);
  assert.equal(o.connectTimeout, 700);
  assert.equal(o.commandTimeout, 400);
  assert.deepEqual([o.host, o.port, o.db, o.username, o.password], ["h", 6380, 3, "u", "p"]);
  assert.equal(o.tls, undefined);

  const t = redisOptions(parseRedisUrl("rediss://redis.example.com", "X"));
  assert.deepEqual(t.tls, { rejectUnauthorized: true, servername: "redis.example.com" });
  const ip = redisOptions(parseRedisUrl("rediss://10.0.0.1", "X"), { insecureTls: true });
  assert.deepEqual(ip.tls, { rejectUnauthorized: false });
  assert.throws(
    () => redisOptions(parseRedisUrl("rediss://h", "X"), { tlsCaFile: "/nonexistent/ca.pem" }),
    (e: Error) =>
      e instanceof RedisUrlError && /cannot read \/nonexistent\/ca\.pem/.test(e.message),
  );
});

Deno.test("reconnect delays double from 100 ms to a 2 s cap with ±20% jitter", () => {
  const lo = () => 0;
  const hi = () => 0.999999;
  assert.equal(reconnectDelayMs(1, lo), 80);
  assert.equal(reconnectDelayMs(2, lo), 160);
  assert.equal(reconnectDelayMs(5, lo), 1280);
  assert.equal(reconnectDelayMs(6, lo), 1600);
  assert.equal(reconnectDelayMs(1000, hi), 2400);
  for (let i = 1; i < 50; i++) {
    const d = reconnectDelayMs(i);
    assert.ok(d >= 80 && d <= 2400, String(d));
  }
});
