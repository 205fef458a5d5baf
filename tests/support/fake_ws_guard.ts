/**
 * What a fake exchange enforces on each WebSocket connection, the way the real one does
 * (shared/docs/exchanges.md, Binance "WebSocket Limits"):
 * - Server pings every `pingMs`; a connection whose pong to a ping is later than `pongTimeoutMs`
 *   is dropped (an unsolicited pong answers nothing: only a pong after the ping counts).
 * - At most `messages` incoming messages per `windowMs` (sliding), where text messages, pings and
 *   pongs all count; the message over it drops the connection (without a close frame).
 * Everything is counted so tests can assert what the client did.
 */

import { Buffer } from "node:buffer";
import type { WebSocket } from "ws";

/** Per-connection rules; absent parts are not enforced. */
export interface WsGuardRules {
  inboundLimit?: { messages: number; windowMs: number };
  pingMs?: number;
  pongTimeoutMs?: number;
}

/** What the guards of one fake saw, over all its connections. */
export interface WsGuardStats {
  /** Incoming messages (text, ping, pong). */
  messages: number;
  pings: number;
  pongs: number;
  /** Most incoming messages seen in one window on one connection. */
  maxInWindow: number;
  /** Connections dropped for exceeding the inbound limit. */
  limitDrops: number;
  /** Connections dropped for a late pong. */
  pongDrops: number;
  /** Longest time from a ping to its pong, ms. */
  maxPongDelayMs: number;
}

export function newWsGuardStats(): WsGuardStats {
  return {
    messages: 0,
    pings: 0,
    pongs: 0,
    maxInWindow: 0,
    limitDrops: 0,
    pongDrops: 0,
    maxPongDelayMs: 0,
  };
}

/**
 * Guards `ws` under `rules`, counting into `stats`; `onText` receives each text message that
 * was admitted. Returns a function that stops the guard's timers.
 */
export function guardConnection(
  ws: WebSocket,
  rules: WsGuardRules,
  stats: WsGuardStats,
  onText: (text: string) => void,
): () => void {
  const arrivals: number[] = [];
  let pingSentAt: number | null = null;
  let dropped = false;
  const drop = (why: "limit" | "pong") => {
    if (dropped) return;
    dropped = true;
    if (why === "limit") stats.limitDrops++;
    else stats.pongDrops++;
    stop();
    ws.terminate();
  };
  const arrive = (): boolean => {
    stats.messages++;
    const l = rules.inboundLimit;
    if (!l || dropped) return !dropped;
    const now = performance.now();
    arrivals.push(now);
    while (arrivals.length && now - arrivals[0] >= l.windowMs) arrivals.shift();
    stats.maxInWindow = Math.max(stats.maxInWindow, arrivals.length);
    if (arrivals.length > l.messages) drop("limit");
    return !dropped;
  };
  ws.on("message", (data: Buffer) => {
    if (arrive()) onText(String(data));
  });
  ws.on("ping", () => {
    stats.pings++;
    arrive();
  });
  ws.on("pong", () => {
    stats.pongs++;
    if (!arrive() || pingSentAt === null) return;
    stats.maxPongDelayMs = Math.max(stats.maxPongDelayMs, performance.now() - pingSentAt);
    pingSentAt = null;
  });
  const timers: ReturnType<typeof setInterval>[] = [];
  if (rules.pingMs) {
    timers.push(setInterval(() => {
      if (ws.readyState !== 1) return;
      // A ping still unanswered keeps its original time: the deadline runs from it.
      if (pingSentAt === null) pingSentAt = performance.now();
      ws.ping(Buffer.from(String(Date.now())));
    }, rules.pingMs));
  }
  if (rules.pongTimeoutMs) {
    const limit = rules.pongTimeoutMs;
    timers.push(setInterval(() => {
      if (pingSentAt !== null && performance.now() - pingSentAt > limit) drop("pong");
    }, Math.max(5, Math.min(limit / 4, 1_000))));
  }
  const stop = () => {
    for (const t of timers) clearInterval(t);
    timers.length = 0;
  };
  ws.on("close", stop);
  return stop;
}
