/**
 * What a fake exchange protocol provides to `fake_exchange.ts`: how a connection subscribes, how
 * trades, heartbeats and maintenance notices are encoded, and how the REST history is served.
 * Each implementation follows the exchange's documented wire format (shared/docs/exchanges.md),
 * not the adapter's internals.
 */

import type { Market } from "../../../lib/trade.ts";
import type { NumberStyle, TapeEntry } from "./tape.ts";
import type { RateLimitReplies } from "../fake_rest_gate.ts";
import type { WsGuardRules } from "../fake_ws_guard.ts";

/** Per-connection state a protocol may keep. */
export interface Session {
  /** Trades are sent to this connection. */
  subscribed: boolean;
  /** Heartbeats are sent to this connection. */
  heartbeats: boolean;
  /** Protocol-specific flags (e.g. Binance combined-stream wrapping). */
  flags: Record<string, string | number | boolean>;
}

/** Replies to a connection event. */
export interface Reply {
  /** Texts to send, in order. */
  send: string[];
  /** Send the snapshot of recent trades (exchanges that do so on subscribe). */
  snapshot?: boolean;
}

/** An HTTP response from the fake REST API. */
export interface RestResponse {
  status: number;
  body: string;
  /** Extra response headers (`retry-after`). */
  headers?: Record<string, string>;
}

export interface FakeProtocol {
  exchange: string;
  /** Path the WebSocket base URL ends with (`""` where the client appends the stream path). */
  wsBasePath: string;
  /** Market served when the caller names none. */
  defaultMarket: { base: string; quote: string };
  numberStyle: NumberStyle;
  defaultStartTradeId: bigint;
  /** Trades per message when the caller does not say. */
  defaultPerMessage: number;
  /** The protocol's largest batch (1 where each message carries one trade). */
  maxPerMessage: number;
  /** The protocol marks trades (Bybit `BT`/`RPI`): the fake may flag tape trades. */
  carriesFlags?: boolean;
  /** Heartbeat period for sessions with `heartbeats` on; none when undefined. */
  heartbeatMs?: number;
  /** Trades in the snapshot sent on subscribe (0: none). */
  snapshotSize: number;
  /** A new connection to `url`; null refuses it with 404. */
  open(url: URL, market: Market, session: Session): Reply | null;
  /** A text message from the client. */
  message(text: string, market: Market, session: Session): Reply;
  /** One message carrying `batch` (1..perMessage trades); `snapshot` marks a snapshot. */
  encode(batch: TapeEntry[], market: Market, session: Session, snapshot: boolean): string;
  heartbeat?(market: Market, session: Session): string;
  /** The exchange's "reconnect soon" notice, where it has one. */
  maintenance?(market: Market): string;
  /** What the exchange enforces on each connection (message limit, server pings). */
  wsRules?: WsGuardRules;
  /** How the exchange refuses requests over its limit; default 429 / 418 with `Retry-After`. */
  rateLimitReplies?: RateLimitReplies;
  /** A REST request against the tape published so far; null for unknown paths (404). */
  rest(url: URL, published: TapeEntry[], market: Market): RestResponse | null;
}
