import assert from "node:assert/strict";
import { Redis, type RedisOptions } from "ioredis";
import { type FaultProxy, startProxy } from "./tcp_proxy.ts";
import { startRedis } from "./redis_server.ts";

/** A tiny echo server that records what it received per connection. */
function startEcho() {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns = new Set<Deno.Conn>();
  const received: Uint8Array[][] = [];
  const eofs: boolean[] = [];
  const loops: Promise<void>[] = [];
  const serve = async (conn: Deno.Conn, i: number) => {
    const buf = new Uint8Array(64 * 1024);
    try {
      while (true) {
        const n = await conn.read(buf);
        if (n === null) {
          eofs[i] = true;
          break;
        }
        received[i].push(buf.slice(0, n));
        await conn.write(buf.subarray(0, n));
      }
    } catch { /* reset or closed by the test */ }
    conns.delete(conn);
    try {
      conn.close();
    } catch { /* already closed */ }
  };
  const accepting = (async () => {
    for await (const conn of listener) {
      conns.add(conn);
      received.push([]);
      eofs.push(false);
      loops.push(serve(conn, received.length - 1));
    }
  })();
  return {
    port: (listener.addr as Deno.NetAddr).port,
    received,
    eofs,
    async stop() {
      listener.close();
      for (const c of conns) c.close();
      await accepting.catch(() => {});
      await Promise.all(loops);
    },
  };
}

const enc = new TextEncoder();
const dec = new TextDecoder();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Reads until `n` bytes or EOF, or returns what it has after `ms`; one read in flight per conn. */
async function readFor(conn: Deno.Conn, n: number, ms: number): Promise<string | Error> {
  let out = "";
  const deadline = Date.now() + ms;
  while (out.length < n) {
    let read = inflight.get(conn);
    if (!read) {
      const buf = new Uint8Array(1024);
      read = conn.read(buf).then(
        (r) => (r === null ? null : buf.slice(0, r)),
        (e: Error) => e,
      );
      inflight.set(conn, read);
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<"timeout">((r) => {
      timer = setTimeout(() => r("timeout"), Math.max(0, deadline - Date.now()));
    });
    const res = await Promise.race([read, timeout]);
    clearTimeout(timer);
    if (res === "timeout") break; // the read stays in flight for the next call
    inflight.delete(conn);
    if (res instanceof Error) return res;
    if (res === null) return out.length ? out : new Error("EOF");
    out += dec.decode(res);
  }
  return out;
}
const inflight = new Map<Deno.Conn, Promise<Uint8Array | null | Error>>();

async function withEcho(fn: (echo: ReturnType<typeof startEcho>) => Promise<void>) {
  const echo = startEcho();
  try {
    await fn(echo);
  } finally {
    await echo.stop();
    await Promise.all(inflight.values());
    inflight.clear();
  }
}

Deno.test("proxy: pass forwards bytes both ways and stop() closes every connection", async () => {
  await withEcho(async (echo) => {
    const proxy = await startProxy({ hostname: "127.0.0.1", port: echo.port });
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: proxy.port });
    await conn.write(enc.encode("hello"));
    assert.equal(await readFor(conn, 5, 2000), "hello");
    assert.equal(proxy.connections, 1);
    assert.equal(proxy.url(), `redis://127.0.0.1:${proxy.port}`);
    await proxy.stop();
    await proxy.stop();
    assert.deepEqual(await readFor(conn, 1, 2000), new Error("EOF"));
    assert.equal(proxy.connections, 0);
    conn.close();
  });
});

Deno.test("proxy: refuse gives ECONNREFUSED and closes open connections; pass heals on the same port", async () => {
  await withEcho(async (echo) => {
    const proxy = await startProxy({ hostname: "127.0.0.1", port: echo.port });
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: proxy.port });
    await proxy.mode("refuse");
    assert.deepEqual(await readFor(conn, 1, 2000), new Error("EOF"));
    conn.close();
    await assert.rejects(
      Deno.connect({ hostname: "127.0.0.1", port: proxy.port }),
      Deno.errors.ConnectionRefused,
    );
    await proxy.mode("pass");
    const again = await Deno.connect({ hostname: "127.0.0.1", port: proxy.port });
    await again.write(enc.encode("back"));
    assert.equal(await readFor(again, 4, 2000), "back");
    again.close();
    await proxy.stop();
  });
});

Deno.test("proxy: hang forwards nothing and closes nothing, then delivers in order when healed", async () => {
  await withEcho(async (echo) => {
    const proxy = await startProxy({ hostname: "127.0.0.1", port: echo.port });
    const old = await Deno.connect({ hostname: "127.0.0.1", port: proxy.port });
    await old.write(enc.encode("a"));
    assert.equal(await readFor(old, 1, 2000), "a");
    await proxy.mode("hang");
    await old.write(enc.encode("bc"));
    const fresh = await Deno.connect({ hostname: "127.0.0.1", port: proxy.port });
    await fresh.write(enc.encode("xy"));
    assert.equal(await readFor(old, 2, 300), "", "nothing comes back while hung");
    assert.equal(await readFor(fresh, 2, 50), "");
    assert.equal(echo.received[0].map((c) => dec.decode(c)).join(""), "a", "server saw only 'a'");
    assert.equal(proxy.connections, 2, "both connections stay open");
    await proxy.mode("pass");
    assert.equal(await readFor(old, 2, 2000), "bc");
    assert.equal(await readFor(fresh, 2, 2000), "xy");
    old.close();
    fresh.close();
    await proxy.stop();
  });
});

Deno.test("proxy: reset aborts open connections with RST and resets new ones at once", async () => {
  await withEcho(async (echo) => {
    const proxy = await startProxy({ hostname: "127.0.0.1", port: echo.port });
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: proxy.port });
    await conn.write(enc.encode("1"));
    assert.equal(await readFor(conn, 1, 2000), "1");
    await proxy.mode("reset");
    const err = await readFor(conn, 1, 2000);
    assert.ok(err instanceof Deno.errors.ConnectionReset, `expected RST, got ${err}`);
    conn.close();
    // The RST can arrive before Deno.connect() returns (it then rejects) or at the first read.
    const err2 = await Deno.connect({ hostname: "127.0.0.1", port: proxy.port }).then(
      async (fresh) => {
        const r = await readFor(fresh, 1, 2000);
        fresh.close();
        return r;
      },
      (e: Error) => e,
    );
    assert.ok(err2 instanceof Deno.errors.ConnectionReset, `expected RST, got ${err2}`);
    assert.ok(proxy.stats.resets >= 2);
    await proxy.mode("pass");
    const ok = await Deno.connect({ hostname: "127.0.0.1", port: proxy.port });
    await ok.write(enc.encode("z"));
    assert.equal(await readFor(ok, 1, 2000), "z");
    proxy.resetAll();
    const err3 = await readFor(ok, 1, 2000);
    assert.ok(err3 instanceof Deno.errors.ConnectionReset, `expected RST, got ${err3}`);
    ok.close();
    await proxy.stop();
  });
});

Deno.test("proxy: latency delays each direction and keeps order", async () => {
  await withEcho(async (echo) => {
    const proxy = await startProxy({ hostname: "127.0.0.1", port: echo.port });
    proxy.latency(120, 20);
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: proxy.port });
    const t0 = performance.now();
    for (const s of ["a", "b", "c", "d"]) await conn.write(enc.encode(s));
    assert.equal(await readFor(conn, 4, 3000), "abcd");
    const rtt = performance.now() - t0;
    assert.ok(rtt >= 235, `round trip ${rtt} ms should include 2 x 120 ms`);
    proxy.latency(0);
    const t1 = performance.now();
    await conn.write(enc.encode("e"));
    assert.equal(await readFor(conn, 1, 2000), "e");
    assert.ok(performance.now() - t1 < 200, "latency(0) removes the delay");
    conn.close();
    await proxy.stop();
  });
});

Deno.test("proxy: cutAfterBytes delivers exactly n bytes to the server, then closes", async () => {
  await withEcho(async (echo) => {
    const proxy = await startProxy({ hostname: "127.0.0.1", port: echo.port });
    proxy.cutAfterBytes(7);
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: proxy.port });
    await conn.write(enc.encode("0123456789"));
    const got = await readFor(conn, 10, 2000);
    assert.ok(got instanceof Error || got.length <= 7, `client got ${got}`);
    conn.close();
    for (let i = 0; i < 100 && !echo.eofs[0]; i++) await sleep(10);
    assert.equal(echo.received[0].map((c) => dec.decode(c)).join(""), "0123456");
    assert.ok(echo.eofs[0], "server saw EOF after the cut");
    assert.equal(proxy.stats.cuts, 1);
    await proxy.stop();
  });
});

Deno.test("proxy: slice forwards in pieces no larger than asked", async () => {
  await withEcho(async (echo) => {
    const proxy = await startProxy({ hostname: "127.0.0.1", port: echo.port });
    proxy.slice(3, 5);
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: proxy.port });
    await conn.write(enc.encode("abcdefghij"));
    assert.equal(await readFor(conn, 10, 3000), "abcdefghij");
    const sizes = echo.received[0].map((c) => c.length);
    assert.ok(sizes.every((n) => n <= 3), `server reads ${sizes}`);
    assert.ok(sizes.length >= 4);
    conn.close();
    await proxy.stop();
  });
});

Deno.test("proxy: bandwidth limits each direction to the asked rate, shared by all connections", async () => {
  await withEcho(async (echo) => {
    const proxy = await startProxy({ hostname: "127.0.0.1", port: echo.port });
    proxy.bandwidth(2_000_000); // 250 KB/s each way
    const conns = await Promise.all(
      [0, 1].map(() => Deno.connect({ hostname: "127.0.0.1", port: proxy.port })),
    );
    const payload = "x".repeat(50_000); // 100 KB in all, both connections: at least 0.4 s
    const started = Date.now();
    await Promise.all(conns.map((c) => c.write(enc.encode(payload))));
    const echoed = await Promise.all(conns.map((c) => readFor(c, payload.length, 10_000)));
    const ms = Date.now() - started;
    for (const e of echoed) assert.equal(e, payload);
    assert.ok(ms >= 400 && ms < 3_000, `took ${ms} ms`);
    proxy.bandwidth(null);
    const fast = Date.now();
    await conns[0].write(enc.encode(payload));
    assert.equal(await readFor(conns[0], payload.length, 10_000), payload);
    assert.ok(Date.now() - fast < 400, `unlimited took ${Date.now() - fast} ms`);
    for (const c of conns) c.close();
    await proxy.stop();
  });
});

// ---- against a real redis-server, through ioredis ----

async function withRedis(
  fn: (
    ctx: { proxy: FaultProxy; direct: Redis; connect: (o?: RedisOptions) => Promise<Redis> },
  ) => Promise<void>,
) {
  const server = await startRedis();
  const proxy = await startProxy({ hostname: "127.0.0.1", port: server.port });
  const clients: Redis[] = [];
  const connect = async (o: RedisOptions = {}) => {
    const r = new Redis(proxy.url(), {
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      enableOfflineQueue: false,
      retryStrategy: () => null,
      ...o,
    });
    r.on("error", () => {});
    clients.push(r);
    await r.connect();
    return r;
  };
  const direct = new Redis(server.url, { lazyConnect: true, retryStrategy: () => null });
  clients.push(direct);
  try {
    await direct.connect();
    await fn({ proxy, direct, connect });
  } finally {
    await Promise.all(clients.map(closeClient));
    await proxy.stop();
    await server.stop();
  }
}

async function closeClient(r: Redis): Promise<void> {
  if (r.status === "end") return;
  const ended = new Promise((resolve) => r.once("end", resolve));
  r.disconnect();
  await ended;
}

Deno.test("proxy+redis: pass carries commands and slice(1) still carries them intact", async () => {
  await withRedis(async ({ proxy, direct, connect }) => {
    const r = await connect();
    await r.set("k", "v1");
    assert.equal(await direct.get("k"), "v1");
    proxy.slice(1);
    await r.set("k", "sliced value");
    assert.equal(await r.get("k"), "sliced value");
    assert.ok(proxy.stats.bytesToServer > 0 && proxy.stats.bytesToClient > 0);
  });
});

Deno.test("proxy+redis: refuse closes the client's connection and new connections are refused", async () => {
  await withRedis(async ({ proxy, connect }) => {
    const r = await connect();
    const closed = new Promise((resolve) => r.once("close", resolve));
    await proxy.mode("refuse");
    await closed;
    await assert.rejects(r.ping(), /closed|writable/i);
    const errors: string[] = [];
    const fresh = new Redis(proxy.url(), { lazyConnect: true, retryStrategy: () => null });
    fresh.on("error", (e: Error & { code?: string }) => errors.push(e.code ?? e.message));
    await assert.rejects(fresh.connect());
    await closeClient(fresh);
    assert.deepEqual(errors, ["ECONNREFUSED"]);
    await proxy.mode("pass");
    const again = await connect();
    assert.equal(await again.ping(), "PONG");
  });
});

Deno.test("proxy+redis: hang times a command out with the socket still open; the write lands after healing", async () => {
  await withRedis(async ({ proxy, direct, connect }) => {
    const r = await connect({ commandTimeout: 200 });
    assert.equal(await r.ping(), "PONG");
    await proxy.mode("hang");
    const t0 = performance.now();
    await assert.rejects(r.set("unknown-outcome", "1"), /timed out/i);
    assert.ok(performance.now() - t0 < 1000);
    assert.equal(r.status, "ready", "the client still believes it is connected");
    assert.equal(proxy.connections, 1);
    assert.equal(await direct.get("unknown-outcome"), null, "nothing reached the server");
    await proxy.mode("pass");
    for (let i = 0; i < 100 && !(await direct.get("unknown-outcome")); i++) await sleep(10);
    assert.equal(await direct.get("unknown-outcome"), "1", "the timed-out write was applied later");
  });
});

Deno.test("proxy+redis: reset makes the client see ECONNRESET", async () => {
  await withRedis(async ({ proxy, connect }) => {
    const r = await connect();
    const errors: string[] = [];
    r.on("error", (e: Error & { code?: string }) => errors.push(e.code ?? e.message));
    const closed = new Promise((resolve) => r.once("close", resolve));
    await proxy.mode("reset");
    await closed;
    assert.ok(errors.includes("ECONNRESET"), `errors: ${errors}`);
    await assert.rejects(connect(), /ECONNRESET|closed/);
  });
});

Deno.test("proxy+redis: latency slows each round trip by both directions' delay", async () => {
  await withRedis(async ({ proxy, connect }) => {
    const r = await connect();
    proxy.latency(40);
    const t0 = performance.now();
    await r.ping();
    assert.ok(performance.now() - t0 >= 75, "PING should take >= 2 x 40 ms");
  });
});

Deno.test("proxy+redis: cutAfterBytes cuts a pipeline in the middle; the server applied only a prefix", async () => {
  await withRedis(async ({ proxy, direct, connect }) => {
    const r = await connect();
    const n = 500;
    const cmd = (i: number) => `*3\r\n$3\r\nSET\r\n$${`k${i}`.length}\r\nk${i}\r\n$1\r\nv\r\n`;
    let total = 0;
    for (let i = 0; i < n; i++) total += cmd(i).length;
    proxy.cutAfterBytes(Math.floor(total / 2));
    const p = r.pipeline();
    for (let i = 0; i < n; i++) p.set(`k${i}`, "v");
    const results = await p.exec().catch((e: Error) => e);
    const failed = results instanceof Error || (results ?? []).some(([err]) => err);
    assert.ok(failed, "the pipeline must not look fully successful");
    assert.equal(proxy.stats.cuts, 1);
    const size = await direct.dbsize();
    assert.ok(size > 0 && size < n, `server applied ${size} of ${n}`);
    const present = await direct.exists(`k${size - 1}`);
    const next = await direct.exists(`k${size}`);
    assert.deepEqual([present, next], [1, 0], "the applied commands are a prefix");
  });
});
