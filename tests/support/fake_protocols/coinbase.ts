/**
 * Fake Coinbase Advanced Trade: `subscribe` per channel (`market_trades`, `heartbeats`), a
 * `subscriptions` reply, a 50-trade snapshot, batched `update` events with trades newest first and
 * the **maker's** side, heartbeats every second, and Exchange REST `/products/<id>/trades` (newest
 * first; `after` = ids below the cursor).
 */

import type { FakeProtocol, Reply, Session } from "./protocol.ts";
import { decimalText, rfc3339, type TapeEntry } from "./tape.ts";
import { clientJson, nextCount, nowNanos } from "./_util.ts";
import type { Market } from "../../../lib/trade.ts";

const product = (m: Market) => `${m.base}-${m.quote}`;
const makerSide = (e: TapeEntry) => (e.side === "buy" ? "SELL" : "BUY");
const price = (e: TapeEntry) => decimalText(e.priceUnits, "varied", e.extraZeros);
const size = (e: TapeEntry) => decimalText(e.sizeUnits, "varied", e.extraZeros);

function envelope(channel: string, session: Session, events: string): string {
  const seq = nextCount(session.flags, "seq");
  return `{"channel":"${channel}","client_id":"","timestamp":"${nowNanos()}","sequence_num":${seq},"events":${events}}`;
}

function subscriptions(m: Market, session: Session): string {
  const subs: Record<string, string[]> = {};
  if (session.subscribed) subs.market_trades = [product(m)];
  if (session.heartbeats) subs.heartbeats = [product(m)];
  return envelope("subscriptions", session, JSON.stringify([{ subscriptions: subs }]));
}

export const coinbaseProtocol: FakeProtocol = {
  exchange: "coinbase",
  wsBasePath: "",
  defaultMarket: { base: "BTC", quote: "USD" },
  numberStyle: "varied",
  defaultStartTradeId: 82_047_307n,
  defaultPerMessage: 5,
  maxPerMessage: 100,
  heartbeatMs: 1000,
  snapshotSize: 50,
  open: (): Reply => ({ send: [] }),
  message(text: string, market: Market, session: Session): Reply {
    const req = clientJson(text);
    if (!req || req.type !== "subscribe" || !Array.isArray(req.product_ids)) {
      return { send: [`{"type":"error","message":"Failed to parse subscribe request"}`] };
    }
    if (!req.product_ids.includes(product(market))) {
      return { send: [`{"type":"error","message":"Failed to subscribe: invalid product_id"}`] };
    }
    if (req.channel === "market_trades") {
      session.subscribed = true;
      return { send: [subscriptions(market, session)], snapshot: true };
    }
    if (req.channel === "heartbeats") {
      session.heartbeats = true;
      return { send: [subscriptions(market, session)] };
    }
    return { send: [`{"type":"error","message":"Failed to subscribe: unknown channel"}`] };
  },
  encode(batch: TapeEntry[], market: Market, session: Session, snapshot: boolean): string {
    const trades = [...batch].reverse().map((e) =>
      `{"trade_id":"${e.tradeId}","product_id":"${product(market)}","price":"${price(e)}","size":"${
        size(e)
      }","side":"${makerSide(e)}","time":"${rfc3339(e.tsMicros, 6)}"}`
    );
    const type = snapshot ? "snapshot" : "update";
    return envelope(
      "market_trades",
      session,
      `[{"type":"${type}","trades":[${trades.join(",")}]}]`,
    );
  },
  heartbeat(_market: Market, session: Session): string {
    const n = nextCount(session.flags, "beats");
    return envelope(
      "heartbeats",
      session,
      `[{"current_time":"${new Date().toISOString()}","heartbeat_counter":"${n}"}]`,
    );
  },
  rest(url: URL, published: TapeEntry[], market: Market) {
    const m = /^\/products\/([^/]+)\/trades$/.exec(url.pathname);
    if (!m) return null;
    if (m[1] !== product(market)) return { status: 404, body: `{"message":"NotFound"}` };
    const limit = Math.min(1000, Number(url.searchParams.get("limit") ?? "1000") || 1000);
    const after = url.searchParams.get("after");
    const older = after === null
      ? published
      : published.filter((e) => BigInt(e.tradeId) < BigInt(after));
    const rows = older.slice(-limit).reverse().map((e) =>
      `{"trade_id":${e.tradeId},"side":"${makerSide(e).toLowerCase()}","size":"${
        size(e)
      }","price":"${price(e)}","time":"${rfc3339(e.tsMicros, 6)}"}`
    );
    return { status: 200, body: `[${rows.join(",")}]` };
  },
};
