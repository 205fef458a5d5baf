import assert from "node:assert/strict";
import { createRedis, PingTimeoutError, pingWithin } from "../../lib/redis/client.ts";
import { classifyRedisError, describeRedisError } from "../../lib/redis/errors.ts";
import { parseRedisUrl } from "../../lib/redis/url.ts";
import { TradeWriteError, TradeWriter } from "../../lib/redis/writer.ts";
import { freePort, makeOtherCa, startRedis } from "../support/redis_server.ts";
import { makeTrades } from "./_helpers.ts";

/** PINGs `url` with a fresh client; returns the error (or null) and always disconnects. */
async function tryPing(
  url: string,
  opts: Parameters<typeof createRedis>[1] = {},
  ms = 2000,
): Promise<unknown> {
  const redis = createRedis(parseRedisUrl(url, "--primary"), opts);
  try {
    await pingWithin(redis, ms);
    return null;
  } catch (e) {
    return e;
  } finally {
    redis.disconnect();
  }
}

Deno.test("TLS with the right CA connects and writes", async () => {
  const server = await startRedis({ tls: true });
  const redis = createRedis(server.url, { tlsCaFile: server.tlsCaFile });
  try {
    assert.ok(server.url.startsWith("rediss://"));
    assert.ok((await pingWithin(redis, 2000)) >= 0);
    const r = await new TradeWriter(redis).apply(makeTrades("okx:BTC-USDT", 1, 3), () => true);
    assert.equal(r.applied, 3);
    // localhost is in the certificate too, and the name is checked (SNI + hostname).
    assert.equal(
      await tryPing(server.url.replace("127.0.0.1", "localhost"), { tlsCaFile: server.tlsCaFile }),
      null,
    );
  } finally {
    redis.disconnect();
    await server.stop();
  }
});

Deno.test("TLS with the wrong CA is refused, classified tls, with a clear message", async () => {
  const server = await startRedis({ tls: true });
  try {
    for (const opts of [{ tlsCaFile: await makeOtherCa() }, {}]) {
      const e = await tryPing(server.url, opts);
      assert.ok(e, "must not connect");
      assert.equal(classifyRedisError(e), "tls");
      const line = describeRedisError(e, parseRedisUrl(server.url, "x").redacted, "primary");
      assert.match(
        line,
        /^primary rediss:\/\/127\.0\.0\.1:\d+: TLS certificate verification failed/,
      );
      assert.ok(!line.includes("\n"));
    }
  } finally {
    await server.stop();
  }
});

Deno.test("TLS verification can be turned off explicitly (insecure opt-out)", async () => {
  const server = await startRedis({ tls: true });
  try {
    assert.equal(
      await tryPing(server.url, { insecureTls: true, tlsCaFile: await makeOtherCa() }),
      null,
    );
  } finally {
    await server.stop();
  }
});

Deno.test("an ACL user with a wrong password is classified auth, and the password never shows", async () => {
  const server = await startRedis({ aclUser: { user: "feeder", password: "right-pass" } });
  try {
    assert.equal(await tryPing(server.url), null);
    const wrong = server.url.replace("right-pass", "wrong-pass");
    const e = await tryPing(wrong);
    assert.equal(classifyRedisError(e), "auth");
    const line = describeRedisError(e, parseRedisUrl(wrong, "x").redacted, "primary");
    assert.match(
      line,
      /^primary redis:\/\/feeder:\*\*\*@127\.0\.0\.1:\d+: authentication failed \(WRONGPASS\)/,
    );
    assert.ok(!line.includes("wrong-pass"));

    const anonymous = await tryPing(server.url.replace("feeder:right-pass@", ""));
    assert.equal(classifyRedisError(anonymous), "auth");
    assert.match(describeRedisError(anonymous, "redis://h"), /NOAUTH/);
  } finally {
    await server.stop();
  }
});

Deno.test("a closed port fails fast (< 1 s), is transient, and nothing is queued offline", async () => {
  const url = `redis://127.0.0.1:${await freePort()}`;
  const start = performance.now();
  const e = await tryPing(url, {}, 5000);
  assert.ok(performance.now() - start < 1000, `took ${performance.now() - start} ms`);
  assert.equal(classifyRedisError(e), "transient");
  assert.match(describeRedisError(e, url), /connection refused/);

  const redis = createRedis(url);
  try {
    const t0 = performance.now();
    const w = await new TradeWriter(redis).apply(makeTrades("okx:BTC-USDT", 1, 2), () => true)
      .then(() => null, (err) => err);
    assert.ok(w instanceof TradeWriteError);
    assert.equal(classifyRedisError(w), "transient");
    assert.ok(performance.now() - t0 < 1000);
  } finally {
    redis.disconnect();
  }
});

Deno.test("a hung server (SIGSTOP) misses the PING deadline instead of blocking", async () => {
  const server = await startRedis();
  const redis = createRedis(server.url);
  try {
    await pingWithin(redis, 2000);
    server.pause();
    const start = performance.now();
    const e = await pingWithin(redis, 300).then(() => null, (err) => err);
    const took = performance.now() - start;
    assert.ok(e instanceof PingTimeoutError);
    assert.ok(took >= 290 && took < 900, `took ${took} ms`);
    assert.equal(classifyRedisError(e), "transient");
    server.resume();
  } finally {
    redis.disconnect();
    await server.stop();
  }
});

Deno.test("a write to a hung server rejects at the command deadline as transient", async () => {
  const server = await startRedis();
  const redis = createRedis(server.url, { commandTimeoutMs: 300 });
  try {
    await redis.connect();
    server.pause();
    const start = performance.now();
    const e = await new TradeWriter(redis).apply(makeTrades("okx:BTC-USDT", 1, 2), () => true)
      .then(() => null, (err) => err);
    assert.ok(e instanceof TradeWriteError);
    assert.equal(classifyRedisError(e), "transient");
    assert.ok(performance.now() - start < 900);
  } finally {
    redis.disconnect();
    await server.stop();
  }
});

Deno.test("error classification follows the documented table", () => {
  const err = (message: string, extra: Record<string, unknown> = {}) =>
    Object.assign(new Error(message), extra);
  const cases: [unknown, string][] = [
    [err("WRONGPASS invalid username-password pair or user is disabled."), "auth"],
    [err("NOAUTH Authentication required."), "auth"],
    [err("NOPERM this user has no permissions to run the 'evalsha' command"), "auth"],
    [err("self-signed certificate", { code: "SELF_SIGNED_CERT_IN_CHAIN" }), "tls"],
    [err("Hostname/IP does not match", { code: "ERR_TLS_CERT_ALTNAME_INVALID" }), "tls"],
    [err("connect ECONNREFUSED 127.0.0.1:1", { code: "ECONNREFUSED" }), "transient"],
    [err("read ECONNRESET", { code: "ECONNRESET" }), "transient"],
    [err("Connection is closed."), "transient"],
    [err("Stream isn't writeable and enableOfflineQueue options is false"), "transient"],
    [err("Command timed out"), "transient"],
    [err("Reached the max retries", { name: "MaxRetriesPerRequestError" }), "transient"],
    [err("LOADING Redis is loading the dataset in memory"), "transient"],
    [err("BUSY Redis is busy running a script."), "transient"],
    [err("READONLY You can't write against a read only replica."), "transient"],
    [err("All sentinels are unreachable. Retrying from scratch after 118ms."), "transient"],
    [
      err("All sentinels are unreachable. Retrying from scratch after 9ms. Last error: NOAUTH x"),
      "auth",
    ],
    [err("WRONGTYPE Operation against a key holding the wrong kind of value"), "fatal"],
    [err("BTCFEED_INVALID trade at index 0"), "fatal"],
    ["something odd", "fatal"],
    [null, "fatal"],
    [
      new TradeWriteError("redis write failed", { cause: err("NOAUTH Authentication required.") }),
      "auth",
    ],
    [
      new AggregateError([err("connect ECONNREFUSED ::1:1", { code: "ECONNREFUSED" })]),
      "transient",
    ],
  ];
  for (const [e, want] of cases) assert.equal(classifyRedisError(e), want, String(e));
});

Deno.test("error descriptions are one line, with no stack and no password", () => {
  const e = new Error("ERR something about redis://bob:topsecret@db:6379\n    at stack (x.ts:1)");
  const line = describeRedisError(e, "redis://bob:***@db:6379", "failover");
  assert.equal(
    line,
    "failover redis://bob:***@db:6379: redis error: ERR something about redis://bob:***@db:6379",
  );
  assert.equal(describeRedisError(e, "redis://bob:topsecret@db:6379").includes("topsecret"), false);
});
