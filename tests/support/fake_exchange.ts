/**
 * A local fake exchange: WebSocket + REST on 127.0.0.1 speaking one exchange's real protocol
 * (tests/support/fake_protocols/), publishing a deterministic trade tape.
 *
 * Guarantees tests rely on:
 * - `tape` is the full canonical list of normalized trades the fake will ever publish, in order,
 *   skipped ids included; `receivedAt` is 0 there (compare every other field).
 * - The tape advances at `ratePerSec`; with `pauseWhileDisconnected` (the default) only while at
 *   least one live (not silenced, not dropping) subscriber is connected, so no trade is missed
 *   unless a fault is injected. Otherwise it runs on the clock and disconnected clients miss trades.
 * - REST serves every published trade, including `skipIds` that WebSocket never carried.
 * - `dropAfter` and `silentAfter` fire once: after the K-th published trade the current connections
 *   are closed without a close frame (after their queued messages are written) or go silent (no
 *   trades, heartbeats or replies; the socket stays open). Later connections work normally.
 * - With `restLimits` / `restFaults` the REST API enforces limits and injects faults like the real
 *   exchange (see fake_rest_gate.ts); `rest` records what the client did. `restRetainFromId`
 *   makes older trades unavailable over REST, as an exchange's history retention does.
 * - `outage(ms)` drops the connections and refuses WebSocket upgrades (HTTP 503) for `ms` while
 *   the tape keeps running on the clock, subscribers or not: an exchange-side disconnect whose
 *   trades only REST can give back. `advance(n)` publishes the next `n` trades at once (to REST
 *   history, and to subscribers if any): the tape moving on while btcfeed is down.
 * - WebSocket rules of the protocol (Binance: 5 incoming messages/s including pings and pongs,
 *   server pings every 20 s with a one-minute pong deadline) are enforced per connection like the
 *   real exchange does (see fake_ws_guard.ts); `wsRules` overrides them, `ws` counts what it saw.
 * - `stop()` closes every socket and timer it opened.
 *
 * Node's http server with `ws` is used instead of `Deno.serve` because `Deno.upgradeWebSocket`
 * cannot drop a connection without a close handshake (the 1006 case feeds must survive).
 */

import http from "node:http";
import type { Duplex } from "node:stream";
import { type WebSocket, WebSocketServer } from "ws";
import { type Market, marketName, type RawTrade, type TradeFlag } from "../../lib/trade.ts";
import type { FakeProtocol, Reply, Session } from "./fake_protocols/protocol.ts";
import { decimalText, makeTape, type TapeEntry } from "./fake_protocols/tape.ts";
import { FAKE_PROTOCOLS } from "./fake_protocols/all.ts";
import { firstAtLeast } from "./fake_protocols/_util.ts";
import {
  type FakeRestFaults,
  type FakeRestLimits,
  HTTP_RATE_LIMIT_REPLIES,
  RestGate,
  type RestGateStats,
} from "./fake_rest_gate.ts";
import {
  guardConnection,
  newWsGuardStats,
  type WsGuardRules,
  type WsGuardStats,
} from "./fake_ws_guard.ts";

/** Options of {@link startFakeExchange}. */
export interface FakeExchangeOptions {
  /** Exchange whose protocol the fake speaks (`binance`, `coinbase`, ...). */
  exchange: string;
  /** Market served. @default the exchange's default market */
  market?: { base: string; quote: string };
  /** Number of trades on the tape. */
  trades: number;
  /** Trades published per second. @default 1000 */
  ratePerSec?: number;
  /** First trade id. @default the protocol's realistic id */
  startTradeId?: number | bigint | string;
  /** Trades per message, where the protocol batches. @default the protocol's default */
  perMessage?: number;
  /** Close current connections abruptly after this many trades are published (once). */
  dropAfter?: number;
  /** Inclusive trade-id range never sent over WebSocket (REST still serves it). */
  skipIds?: [number | bigint | string, number | bigint | string];
  /** Answer WebSocket upgrades and REST with this HTTP status and a JSON body. */
  blockStatus?: 451 | 403;
  /** The clock publishes only this many trades; the rest only through `advance()`. @default all */
  clockUntil?: number;
  /** Advance the tape only while a client is subscribed. @default true */
  pauseWhileDisconnected?: boolean;
  /** Current connections go silent after this many trades are published (once). */
  silentAfter?: number;
  /** Send the exchange's maintenance / reconnect notice after this many trades (once). */
  maintenanceAfter?: number;
  /** Seed of the tape. @default 1 */
  seed?: number;
  /** Time of the first trade, µs since the epoch. @default 1785312345677000 */
  startMicros?: number;
  /** Whole currency units added to every price on the tape. @default 0 */
  priceOffset?: number;
  /**
   * Flags of the tape's trade at `index` (Bybit `BT`/`RPI`), in canonical order; only for a
   * protocol that carries them (startFakeExchange throws otherwise). @default none
   */
  tradeFlags?: (index: number) => TradeFlag[] | undefined;
  /** REST limits enforced like the exchange's (429 / Retry-After, 418 bans). @default none */
  restLimits?: FakeRestLimits;
  /** REST faults: 5xx bursts, a forced ban, slow pages. @default none */
  restFaults?: FakeRestFaults;
  /** REST serves only trades with an id at or above this (older ones are gone). */
  restRetainFromId?: number | bigint | string;
  /** Per-connection WebSocket rules, merged over the protocol's own. @default the protocol's */
  wsRules?: WsGuardRules;
  /**
   * Called right after tape entries `[from, to)` were handed to the subscribers' sockets, with
   * `performance.now()` taken just before (benchmarks stamp emission times with it).
   */
  onPublish?: (from: number, to: number, atMs: number) => void;
}

/** Defaults of {@link FakeExchangeOptions}. */
export const DEFAULT_FAKE_EXCHANGE_OPTIONS = {
  ratePerSec: 1000,
  pauseWhileDisconnected: true,
  seed: 1,
  startMicros: 1_785_312_345_677_000,
} as const;

/** A running fake exchange. */
export interface FakeExchange {
  /** Base WebSocket URL, for `--exchange-url <exchange>=<wsUrl>`. */
  wsUrl: string;
  /** Base REST URL, for `--rest-url <exchange>=<restUrl>`. */
  restUrl: string;
  market: Market;
  /** Every trade the fake will publish, normalized, in order (receivedAt 0). */
  tape: RawTrade[];
  /** Trades published so far (sent, skipped or missed by disconnected clients). */
  sent(): number;
  /** WebSocket connections accepted so far. */
  readonly connections: number;
  /** Connections currently receiving trades. */
  subscribers(): number;
  /** Closes current connections without a close frame. */
  dropAll(): void;
  /** Drops every connection and refuses upgrades for `ms`; the tape runs on meanwhile. */
  outage(ms: number): void;
  /** Publishes the next `n` trades at once. */
  advance(n: number): void;
  /** Lets the clock publish up to `n` trades of the tape (see `clockUntil`). */
  clockTo(n: number): void;
  /** Sends `text` as is to every open connection. */
  sendRaw(text: string): void;
  /** Sends the exchange's maintenance / reconnect notice to every open connection.
   * @throws when the exchange has no such notice (Coinbase, Bybit) */
  sendMaintenance(): void;
  /** What the REST gate saw: requests, rate-limit replies, violations, bans. */
  rest: RestGateStats;
  /** What the WebSocket guards saw: incoming messages, pings, pongs, drops for limits. */
  ws: WsGuardStats;
  /** Resolves once every trade on the tape is published. */
  done: Promise<void>;
  stop(): Promise<void>;
}

interface Client {
  ws: WebSocket;
  session: Session;
  silenced: boolean;
  closing: boolean;
  flushed: Promise<void>;
}

const TICK_MS = 5;
const MAX_TRADES_PER_TICK = 5000;
const BLOCK_BODY = JSON.stringify({
  code: 0,
  msg: "Service unavailable from a restricted location according to 'b. Eligibility'.",
});

/** The normalized trades a protocol's tape entries stand for. */
export function normalizedTape(p: FakeProtocol, tape: TapeEntry[], market: Market): RawTrade[] {
  return tape.map((e) => ({
    market: marketName(market),
    tradeId: e.tradeId,
    price: decimalText(e.priceUnits, p.numberStyle, e.extraZeros),
    size: decimalText(e.sizeUnits, p.numberStyle, e.extraZeros),
    side: e.side,
    ts: Math.floor(e.tsMicros / 1000),
    receivedAt: 0,
    ...(e.flags ? { flags: e.flags } : {}),
  }));
}

/** Starts a fake exchange on a free port of 127.0.0.1. */
export async function startFakeExchange(opts: FakeExchangeOptions): Promise<FakeExchange> {
  const protocol = FAKE_PROTOCOLS[opts.exchange];
  if (!protocol) throw new Error(`no fake protocol for ${opts.exchange}`);
  const o = { ...DEFAULT_FAKE_EXCHANGE_OPTIONS, ...opts };
  const market: Market = { exchange: protocol.exchange, ...(o.market ?? protocol.defaultMarket) };
  const entries = makeTape({
    count: o.trades,
    startTradeId: o.startTradeId !== undefined
      ? BigInt(o.startTradeId)
      : protocol.defaultStartTradeId,
    seed: o.seed,
    startMicros: o.startMicros,
    priceOffset: o.priceOffset,
  });
  if (o.tradeFlags) {
    if (!protocol.carriesFlags) throw new Error(`${protocol.exchange} trades carry no flags`);
    entries.forEach((e, i) => {
      const flags = o.tradeFlags!(i);
      if (flags?.length) e.flags = flags;
    });
  }
  const perMessage = Math.max(
    1,
    Math.min(o.perMessage ?? protocol.defaultPerMessage, protocol.maxPerMessage),
  );
  const skip = o.skipIds ? [BigInt(o.skipIds[0]), BigInt(o.skipIds[1])] : null;
  const visible = (e: TapeEntry) =>
    !skip || BigInt(e.tradeId) < skip[0] || BigInt(e.tradeId) > skip[1];

  const clients = new Set<Client>();
  let cursor = 0;
  let connections = 0;
  let dropped = false, silenced = false, maintained = false;
  let outageUntil = 0;
  let clockUntil = o.clockUntil ?? entries.length;
  const paused = () =>
    o.pauseWhileDisconnected && subscribers() === 0 && performance.now() >= outageUntil;
  let resolveDone!: () => void;
  const done = new Promise<void>((r) => (resolveDone = r));
  if (entries.length === 0) resolveDone();

  const send = (c: Client, text: string) => {
    if (c.closing || c.ws.readyState !== 1) return;
    c.flushed = new Promise((r) => c.ws.send(text, () => r()));
  };
  const deliver = (c: Client, reply: Reply) => {
    for (const t of reply.send) send(c, t);
    if (reply.snapshot && protocol.snapshotSize > 0) {
      const recent = entries.slice(0, cursor).filter(visible).slice(-protocol.snapshotSize);
      send(c, protocol.encode(recent, market, c.session, true));
    }
  };
  const live = () => [...clients].filter((c) => !c.closing && !c.silenced);
  const subscribers = () => live().filter((c) => c.session.subscribed).length;
  const dropAll = () => {
    for (const c of clients) {
      if (c.closing) continue;
      c.closing = true;
      c.flushed.then(() => c.ws.terminate());
    }
  };

  const publish = (batch: TapeEntry[]) => {
    const shown = batch.filter(visible);
    if (shown.length === 0) return;
    for (const c of live()) {
      if (c.session.subscribed) send(c, protocol.encode(shown, market, c.session, false));
    }
  };
  const afterPublish = () => {
    if (o.maintenanceAfter !== undefined && !maintained && cursor >= o.maintenanceAfter) {
      maintained = true;
      if (protocol.maintenance) { for (const c of live()) send(c, protocol.maintenance(market)); }
    }
    if (o.dropAfter !== undefined && !dropped && cursor >= o.dropAfter) {
      dropped = true;
      dropAll();
    }
    if (o.silentAfter !== undefined && !silenced && cursor >= o.silentAfter) {
      silenced = true;
      for (const c of clients) c.silenced = true;
    }
  };

  let budget = 0;
  let last = performance.now();
  const tick = () => {
    const now = performance.now();
    const dt = now - last;
    last = now;
    const end = Math.min(entries.length, clockUntil);
    if (cursor >= end) return;
    if (paused()) return;
    budget = Math.min(budget + (dt * o.ratePerSec) / 1000, MAX_TRADES_PER_TICK);
    while (cursor < end) {
      const n = Math.min(perMessage, end - cursor);
      if (budget < n) break;
      budget -= n;
      const at = performance.now();
      publish(entries.slice(cursor, cursor + n));
      o.onPublish?.(cursor, cursor + n, at);
      cursor += n;
      afterPublish();
      if (paused()) break;
    }
    if (cursor >= entries.length) resolveDone();
  };
  const ticker = setInterval(tick, TICK_MS);
  const beat = protocol.heartbeatMs
    ? setInterval(() => {
      for (const c of live()) {
        if (c.session.heartbeats) send(c, protocol.heartbeat!(market, c.session));
      }
    }, protocol.heartbeatMs)
    : undefined;

  const gate = new RestGate(
    o.restLimits,
    o.restFaults,
    protocol.rateLimitReplies ?? HTTP_RATE_LIMIT_REPLIES,
  );
  const retainFrom = o.restRetainFromId !== undefined ? BigInt(o.restRetainFromId) : null;
  const history = () => {
    const from = retainFrom === null
      ? 0
      : Math.min(cursor, firstAtLeast(entries, retainFrom, (e) => BigInt(e.tradeId)));
    return entries.slice(from, cursor);
  };
  const delays = new Set<ReturnType<typeof setTimeout>>();
  const server = http.createServer((req, res) => {
    const reply = (r: { status: number; body: string; headers?: Record<string, string> }) => {
      const send = () => {
        if (res.destroyed) return;
        res.writeHead(r.status, { "content-type": "application/json", ...r.headers });
        res.end(r.body);
      };
      if (gate.delayMs <= 0) return send();
      const t = setTimeout(() => {
        delays.delete(t);
        send();
      }, gate.delayMs);
      delays.add(t);
    };
    if (o.blockStatus) return reply({ status: o.blockStatus, body: BLOCK_BODY });
    const refused = gate.admit(Date.now());
    if (refused) return reply(refused);
    const r = protocol.rest(new URL(req.url ?? "/", "http://fake"), history(), market);
    reply(r ?? { status: 404, body: `{"error":"not found"}` });
  });
  const wss = new WebSocketServer({ noServer: true, autoPong: true });
  const wsRules: WsGuardRules = { ...protocol.wsRules, ...o.wsRules };
  const wsStats = newWsGuardStats();
  server.on("upgrade", (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    if (o.blockStatus) return refuse(socket, o.blockStatus, BLOCK_BODY);
    if (performance.now() < outageUntil) return refuse(socket, 503, `{"msg":"maintenance"}`);
    const session: Session = { subscribed: false, heartbeats: false, flags: {} };
    const reply = protocol.open(new URL(req.url ?? "/", "http://fake"), market, session);
    if (!reply) return refuse(socket, 404, `{"error":"not found"}`);
    wss.handleUpgrade(req, socket, head, (ws: WebSocket) => {
      connections++;
      const c: Client = {
        ws,
        session,
        silenced: false,
        closing: false,
        flushed: Promise.resolve(),
      };
      clients.add(c);
      guardConnection(ws, wsRules, wsStats, (text) => {
        if (!c.silenced) deliver(c, protocol.message(text, market, session));
      });
      ws.on("close", () => clients.delete(c));
      ws.on("error", () => clients.delete(c));
      deliver(c, reply);
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const { port } = server.address() as { port: number };

  return {
    wsUrl: `ws://127.0.0.1:${port}${protocol.wsBasePath}`,
    restUrl: `http://127.0.0.1:${port}`,
    market,
    tape: normalizedTape(protocol, entries, market),
    sent: () => cursor,
    get connections() {
      return connections;
    },
    subscribers,
    rest: gate.stats,
    ws: wsStats,
    dropAll,
    outage(ms: number) {
      outageUntil = performance.now() + ms;
      dropAll();
    },
    clockTo(n: number) {
      clockUntil = n;
    },
    advance(n: number) {
      const end = Math.min(entries.length, cursor + Math.max(0, n));
      while (cursor < end) {
        const k = Math.min(perMessage, end - cursor);
        if (subscribers() > 0) publish(entries.slice(cursor, cursor + k));
        cursor += k;
        afterPublish();
      }
      if (cursor >= entries.length) resolveDone();
    },
    sendRaw(text: string) {
      for (const c of clients) send(c, text);
    },
    sendMaintenance() {
      if (!protocol.maintenance) throw new Error(`${protocol.exchange} has no maintenance notice`);
      for (const c of clients) send(c, protocol.maintenance(market));
    },
    done,
    async stop() {
      clearInterval(ticker);
      for (const t of delays) clearTimeout(t);
      if (beat !== undefined) clearInterval(beat);
      for (const c of clients) c.ws.terminate();
      clients.clear();
      wss.close();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

function refuse(socket: Duplex, status: number, body: string): void {
  const reason = status === 451
    ? "Unavailable For Legal Reasons"
    : status === 403
    ? "Forbidden"
    : status === 503
    ? "Service Unavailable"
    : "Not Found";
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\ncontent-type: application/json\r\ncontent-length: ${
      new TextEncoder().encode(body).length
    }\r\nconnection: close\r\n\r\n${body}`,
  );
}
