/**
 * A small fault-injecting TCP proxy for tests (Toxiproxy's vocabulary, in process).
 *
 * `startProxy(target)` listens on a free 127.0.0.1 port and forwards bytes both ways to `target`.
 * Faults, switchable at any time:
 * - `mode("refuse")`: the listener is closed, so new connections get ECONNREFUSED from the kernel,
 *   and every open connection is closed (FIN) on both sides, as when the server goes away.
 * - `mode("hang")`: nothing is forwarded in either direction and no socket is closed; new
 *   connections are accepted (the kernel does that anyway) but never forwarded. Data that arrives
 *   meanwhile is held (reading stops, so TCP flow control pushes back on the sender) and is
 *   delivered in order when the mode returns to `"pass"`, as when a partition heals.
 * - `mode("hold")`: like `"hang"` for the client's data only: what the client sends is held (and
 *   delivered in order on `"pass"`), while the server's replies still flow. A request sent now
 *   reaches the server late, as on a link whose one direction stalls.
 * - `mode("reset")`: every open connection is aborted with a real TCP RST on both sides, and new
 *   connections are reset as soon as they are accepted.
 * - `latency(ms, jitterMs)`: each chunk is delivered `ms` (+ up to `jitterMs`) after it arrived,
 *   in each direction; order is kept.
 * - `cutAfterBytes(n)`: each connection is closed after `n` more bytes have been forwarded to the
 *   server (the rest of the chunk is discarded): a pipeline cut in the middle.
 * - `slice(bytes, delayMs)`: data is forwarded in pieces of at most `bytes`, `delayMs` apart.
 * - `bandwidth(bitsPerSec)`: each direction is a link of that rate, shared by every connection
 *   (as one slow WAN link is): pieces of at most 10 ms of the rate, each sent when the link has
 *   finished sending the previous ones.
 *
 * Why `node:net` and not `Deno.listen`/`Deno.connect`: Deno's own TCP API has no `SO_LINGER`, so
 * the only way it can abort a connection is `close()`, which sends a FIN (an RST only if unread
 * data happens to sit in the receive buffer). `node:net`'s `resetAndDestroy()` works under Deno
 * and sends a genuine RST (the peer reads ECONNRESET), so the proxy uses it.
 *
 * `stop()` closes the listener and every socket, clears every timer and resolves once all handles
 * are closed, so Deno's test sanitizers see nothing left open. It is idempotent.
 */

import net from "node:net";
import { Buffer } from "node:buffer";

/** The proxy's fault mode; `"pass"` forwards normally. */
export type ProxyMode = "pass" | "refuse" | "hang" | "hold" | "reset";

/** Counters a test can assert on. */
export interface ProxyStats {
  /** Connections accepted since start. */
  accepted: number;
  /** Connections closed by `cutAfterBytes`. */
  cuts: number;
  /** Connections aborted with RST (reset mode, `resetAll`, or a reset propagated from a peer). */
  resets: number;
  /** Bytes written to the server. */
  bytesToServer: number;
  /** Bytes written to the client. */
  bytesToClient: number;
}

/** A running proxy; see the module comment for the fault semantics. */
export interface FaultProxy {
  /** The 127.0.0.1 port clients connect to. */
  readonly port: number;
  /** Currently open client connections. */
  readonly connections: number;
  /** The current mode. */
  readonly currentMode: ProxyMode;
  readonly stats: Readonly<ProxyStats>;
  /** `redis://127.0.0.1:<port>` (or another scheme). */
  url(scheme?: string): string;
  /** Switches the fault mode; resolves once it is in effect (the listener closed or reopened). */
  mode(m: ProxyMode): Promise<void>;
  /** Adds `ms` (+ a uniform random 0..`jitterMs`) to each chunk in each direction; 0 disables. */
  latency(ms: number, jitterMs?: number): void;
  /** Closes each connection after `n` more bytes were forwarded to the server; null disables. */
  cutAfterBytes(n: number | null): void;
  /** Forwards in pieces of at most `bytes`, `delayMs` apart; null disables. */
  slice(bytes: number | null, delayMs?: number): void;
  /** Limits each direction (all connections together) to `bitsPerSec`; null disables. */
  bandwidth(bitsPerSec: number | null): void;
  /** Aborts every open connection with RST now, without changing the mode. */
  resetAll(): void;
  /** Closes everything; idempotent. */
  stop(): Promise<void>;
}

type Item = { data: Buffer; dueAt: number } | { end: "fin" | "rst" };
const HIGH_WATER_BYTES = 1 << 20;

/** Starts a proxy to `target` on a free 127.0.0.1 port. */
export async function startProxy(target: { hostname: string; port: number }): Promise<FaultProxy> {
  const proxy = new Proxy(target);
  await proxy.listen(0);
  return proxy;
}

class Proxy implements FaultProxy {
  port = 0;
  currentMode: ProxyMode = "pass";
  stats: ProxyStats = { accepted: 0, cuts: 0, resets: 0, bytesToServer: 0, bytesToClient: 0 };
  #target: { hostname: string; port: number };
  #server: net.Server | null = null;
  #links = new Set<Link>();
  #stopped = false;
  latencyMs = 0;
  jitterMs = 0;
  cutBytes: number | null = null;
  sliceBytes: number | null = null;
  sliceDelayMs = 0;
  bytesPerMs: number | null = null;
  /** Per direction: when the shared link is free again (ms since the epoch). */
  linkFreeAt = { toServer: 0, toClient: 0 };

  constructor(target: { hostname: string; port: number }) {
    this.#target = target;
  }

  get connections(): number {
    return this.#links.size;
  }

  url(scheme = "redis"): string {
    return `${scheme}://127.0.0.1:${this.port}`;
  }

  listen(port: number): Promise<void> {
    const server = net.createServer({ noDelay: true }, (socket) => this.#accept(socket));
    this.#server = server;
    return new Promise((resolve, reject) => {
      server.once("error", reject);
      server.listen({ port, host: "127.0.0.1", exclusive: true }, () => {
        server.off("error", reject);
        this.port = (server.address() as net.AddressInfo).port;
        resolve();
      });
    });
  }

  async mode(m: ProxyMode): Promise<void> {
    if (this.#stopped) return;
    const from = this.currentMode;
    this.currentMode = m;
    if (m === "refuse") {
      for (const link of this.#links) void link.destroy("fin");
      await this.#closeServer();
    } else if (m === "reset") {
      this.resetAll();
    } else {
      for (const link of this.#links) link.kick();
    }
    if (m !== "refuse" && from === "refuse" && !this.#server) await this.listen(this.port);
  }

  latency(ms: number, jitterMs = 0): void {
    this.latencyMs = Math.max(0, ms);
    this.jitterMs = Math.max(0, jitterMs);
  }

  cutAfterBytes(n: number | null): void {
    this.cutBytes = n;
    for (const link of this.#links) link.sentSinceCut = 0;
  }

  slice(bytes: number | null, delayMs = 0): void {
    this.sliceBytes = bytes !== null && bytes > 0 ? bytes : null;
    this.sliceDelayMs = Math.max(0, delayMs);
  }

  bandwidth(bitsPerSec: number | null): void {
    this.bytesPerMs = bitsPerSec !== null && bitsPerSec > 0 ? bitsPerSec / 8 / 1000 : null;
  }

  resetAll(): void {
    for (const link of this.#links) void link.destroy("rst");
  }

  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    const closing = [...this.#links].map((link) => link.destroy("fin"));
    await Promise.all([...closing, this.#closeServer()]);
  }

  forget(link: Link): void {
    this.#links.delete(link);
  }

  #closeServer(): Promise<void> {
    const server = this.#server;
    this.#server = null;
    if (!server) return Promise.resolve();
    return new Promise((resolve) => server.close(() => resolve()));
  }

  #accept(client: net.Socket): void {
    this.stats.accepted++;
    if (this.#stopped || this.currentMode === "refuse") {
      client.destroy();
      return;
    }
    if (this.currentMode === "reset") {
      this.stats.resets++;
      client.on("error", () => {});
      client.resetAndDestroy();
      return;
    }
    const upstream = net.connect({ host: this.#target.hostname, port: this.#target.port });
    upstream.setNoDelay(true);
    this.#links.add(new Link(this, client, upstream));
  }
}

/** One proxied connection: two sockets and a pump per direction. */
class Link {
  sentSinceCut = 0;
  #proxy: Proxy;
  #client: net.Socket;
  #upstream: net.Socket;
  #toServer: Pump;
  #toClient: Pump;
  #closed: Promise<void>;
  #destroyed = false;

  constructor(proxy: Proxy, client: net.Socket, upstream: net.Socket) {
    this.#proxy = proxy;
    this.#client = client;
    this.#upstream = upstream;
    this.#toServer = new Pump(this, client, upstream, true);
    this.#toClient = new Pump(this, upstream, client, false);
    const closed = (s: net.Socket) => new Promise<void>((r) => s.once("close", () => r()));
    this.#closed = Promise.all([closed(client), closed(upstream)]).then(() => proxy.forget(this));
    if (proxy.currentMode === "hang" || proxy.currentMode === "hold") client.pause();
    upstream.once("connect", () => this.#toServer.kick());
    upstream.on("error", () => {}); // handled by the pump; this keeps a late error from throwing
  }

  get proxy(): Proxy {
    return this.#proxy;
  }

  /** Whether the direction toward the server (`toServer`) or the client is held now. */
  hung(toServer: boolean): boolean {
    const mode = this.#proxy.currentMode;
    return mode === "hang" || (mode === "hold" && toServer);
  }

  /** Re-evaluates both directions after a mode change (hang pauses, pass resumes). */
  kick(): void {
    this.#toServer.kick();
    this.#toClient.kick();
  }

  /** Closes both sides with FIN or RST; resolves when both sockets are closed. */
  destroy(how: "fin" | "rst"): Promise<void> {
    this.#toServer.cancel();
    this.#toClient.cancel();
    if (how === "rst" && !this.#destroyed) this.#proxy.stats.resets++;
    this.#destroyed = true;
    for (const s of [this.#client, this.#upstream]) {
      if (s.destroyed) continue;
      if (how === "rst" && !s.connecting) s.resetAndDestroy();
      else s.destroy();
    }
    return this.#closed;
  }

  /**
   * Ends the connection after a cut: the bytes already written still reach the server, then
   * it sees EOF (in the middle of a command); the client's socket is closed at once.
   */
  cut(): void {
    this.#toServer.cancel();
    this.#toClient.cancel();
    this.#destroyed = true;
    this.#upstream.end();
    this.#client.destroy();
  }
}

/** Moves data one way, applying latency, slicing, cuts and hangs, with backpressure. */
class Pump {
  #link: Link;
  #src: net.Socket;
  #dst: net.Socket;
  #toServer: boolean;
  #queue: Item[] = [];
  #queuedBytes = 0;
  #timer: ReturnType<typeof setTimeout> | null = null;
  #waitingDrain = false;
  #lastDueAt = 0;
  #cancelled = false;

  constructor(link: Link, src: net.Socket, dst: net.Socket, toServer: boolean) {
    this.#link = link;
    this.#src = src;
    this.#dst = dst;
    this.#toServer = toServer;
    src.on("data", (chunk: Buffer) => this.#push(chunk));
    src.on("end", () => this.#enqueue({ end: "fin" }));
    src.on("error", (e: Error & { code?: string }) => {
      // A peer's RST (or a failed upstream connect) is passed on as an RST to the other side.
      this.#enqueue({ end: e.code === "ECONNRESET" || e.code === "ECONNREFUSED" ? "rst" : "fin" });
    });
    dst.on("drain", () => {
      this.#waitingDrain = false;
      this.kick();
    });
  }

  cancel(): void {
    this.#cancelled = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    this.#queue = [];
  }

  #push(chunk: Buffer): void {
    if (this.#cancelled) return;
    const p = this.#link.proxy;
    const delay = p.latencyMs + (p.jitterMs ? Math.random() * p.jitterMs : 0);
    const dueAt = Math.max(this.#lastDueAt, Date.now() + delay);
    this.#lastDueAt = dueAt;
    this.#queuedBytes += chunk.length;
    if (this.#queuedBytes > HIGH_WATER_BYTES) this.#src.pause();
    this.#enqueue({ data: chunk, dueAt });
  }

  #enqueue(item: Item): void {
    if (this.#cancelled) return;
    this.#queue.push(item);
    this.kick();
  }

  /** Forwards what is due; schedules itself for what is not due yet. */
  kick(): void {
    if (this.#cancelled || this.#timer || this.#waitingDrain) return;
    if (this.#link.hung(this.#toServer)) {
      this.#src.pause();
      return;
    }
    if (this.#dst.connecting) return;
    const p = this.#link.proxy;
    while (this.#queue.length > 0) {
      const item = this.#queue[0];
      if ("end" in item) {
        this.#queue.length = 0;
        void this.#link.destroy(item.end);
        return;
      }
      const wait = item.dueAt - Date.now();
      if (wait > 0) return this.#schedule(wait);
      let piece = item.data;
      if (p.sliceBytes !== null && piece.length > p.sliceBytes) {
        piece = piece.subarray(0, p.sliceBytes);
      }
      const direction = this.#toServer ? "toServer" : "toClient";
      if (p.bytesPerMs !== null) {
        const busyMs = p.linkFreeAt[direction] - Date.now();
        if (busyMs > 0) return this.#schedule(busyMs);
        const most = Math.max(1, Math.floor(p.bytesPerMs * 10));
        if (piece.length > most) piece = piece.subarray(0, most);
        p.linkFreeAt[direction] = Date.now() + piece.length / p.bytesPerMs;
      }
      let cut = false;
      if (this.#toServer && p.cutBytes !== null) {
        const room = p.cutBytes - this.#link.sentSinceCut;
        if (piece.length >= room) {
          piece = piece.subarray(0, Math.max(0, room));
          cut = true;
        }
        this.#link.sentSinceCut += piece.length;
      }
      if (piece === item.data) this.#queue.shift();
      else item.data = item.data.subarray(piece.length);
      this.#queuedBytes -= piece.length;
      const ok = piece.length === 0 || this.#dst.write(piece);
      if (this.#toServer) p.stats.bytesToServer += piece.length;
      else p.stats.bytesToClient += piece.length;
      if (cut) {
        p.stats.cuts++;
        this.#link.cut();
        return;
      }
      if (!ok) {
        this.#waitingDrain = true;
        return;
      }
      if (p.sliceBytes !== null && p.sliceDelayMs > 0 && this.#queue.length > 0) {
        return this.#schedule(p.sliceDelayMs);
      }
    }
    if (this.#queuedBytes <= HIGH_WATER_BYTES && this.#src.isPaused()) this.#src.resume();
  }

  #schedule(ms: number): void {
    this.#timer = setTimeout(() => {
      this.#timer = null;
      this.kick();
    }, ms);
  }
}
