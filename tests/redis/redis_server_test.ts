import assert from "node:assert/strict";
import { Redis } from "ioredis";
import { freePort, startRedis } from "../support/redis_server.ts";

Deno.test("test redis-server answers, restarts empty on the same port, and stops for good", async () => {
  const server = await startRedis();
  try {
    const redis = new Redis(server.url, { lazyConnect: true, maxRetriesPerRequest: 0 });
    await redis.connect();
    await redis.set("k", "v");
    assert.equal(await redis.get("k"), "v");
    redis.disconnect();
    const oldPid = server.pid;
    await server.restart();
    assert.notEqual(server.pid, oldPid);
    const again = new Redis(server.url, { lazyConnect: true, maxRetriesPerRequest: 0 });
    await again.connect();
    assert.equal(await again.get("k"), null);
    again.disconnect();
  } finally {
    await server.stop();
    await server.stop();
  }
  const status = await server.exited;
  assert.equal(status.success, false);
  await assert.rejects(Deno.connect({ hostname: "127.0.0.1", port: server.port }));
});

Deno.test("freePort returns a bindable port", async () => {
  const port = await freePort();
  const l = Deno.listen({ hostname: "127.0.0.1", port });
  l.close();
});

Deno.test("TLS and ACL test servers start with credentials in their URL and a CA file", async () => {
  const a = await startRedis({ tls: true, aclUser: { user: "alice", password: "p@ss:w/rd" } });
  try {
    assert.ok(a.url.startsWith("rediss://alice:p%40ss%3Aw%2Frd@127.0.0.1:"));
    assert.ok(a.tlsCaFile);
  } finally {
    await a.stop();
  }
});

Deno.test("a paused test server keeps its socket but answers nothing until resumed", async () => {
  const server = await startRedis();
  const redis = new Redis(server.url, {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    commandTimeout: 200,
  });
  try {
    await redis.connect();
    server.pause();
    await assert.rejects(redis.ping(), /timed out/);
    server.resume();
    assert.equal(await redis.ping(), "PONG");
  } finally {
    redis.disconnect();
    await server.stop();
  }
});

Deno.test("a test server killed with SIGKILL restarts on the same port", async () => {
  const server = await startRedis();
  try {
    server.kill("SIGKILL");
    const status = await server.exited;
    assert.equal(status.signal, "SIGKILL");
    await assert.rejects(Deno.connect({ hostname: "127.0.0.1", port: server.port }));
    await server.restart();
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
    conn.close();
  } finally {
    await server.stop();
  }
});

Deno.test("a test server that cannot start throws its reason and leaves no process", async () => {
  const err = await startRedis({ args: ["--no-such-option", "1"] }).then(() => null, (e) => e);
  assert.ok(err instanceof Error);
  assert.match(err.message, /exited at start: .*no-such-option/s);
  const port = await freePort();
  const busy = Deno.listen({ hostname: "127.0.0.1", port });
  try {
    await assert.rejects(startRedis({ port }), /Address already in use|not ready|exited/);
  } finally {
    busy.close();
  }
});
