/**
 * Test helper: connects an adapter to a fake exchange with Deno's WebSocket and collects what the
 * adapter parses, until a condition holds or a deadline passes. Closes its socket before returning.
 */

import type { ExchangeAdapter, ParseResult } from "../../lib/exchanges/adapter.ts";
import type { FakeExchange } from "../support/fake_exchange.ts";

export interface Collected {
  results: ParseResult[];
  /** Trades by trade id, first occurrence kept (snapshots repeat trades). */
  byId: Map<string, ParseResult["trades"][number]>;
  /** Close code when the server ended the connection (not set when we closed it). */
  closeCode?: number;
}

/** Collects parse results until `until(c)` is true, the socket closes, or `timeoutMs` passes. */
export async function collect(
  adapter: ExchangeAdapter,
  fake: FakeExchange,
  until: (c: Collected) => boolean,
  timeoutMs = 10_000,
): Promise<Collected> {
  const c: Collected = { results: [], byId: new Map() };
  const ws = new WebSocket(adapter.connectUrl(fake.wsUrl, fake.market));
  let finish!: () => void;
  const finished = new Promise<void>((r) => (finish = r));
  const timer = setTimeout(finish, timeoutMs);
  ws.onopen = () => {
    for (const m of adapter.subscribeMessages(fake.market)) ws.send(m);
  };
  ws.onmessage = (e) => {
    const r = adapter.parse(String(e.data), fake.market, Date.now());
    c.results.push(r);
    for (const t of r.trades) if (!c.byId.has(t.tradeId)) c.byId.set(t.tradeId, t);
    if (until(c)) finish();
  };
  ws.onerror = () => {};
  let closingOurselves = false;
  ws.onclose = (e) => {
    if (!closingOurselves) c.closeCode = e.code;
    finish();
  };
  await finished;
  clearTimeout(timer);
  if (ws.readyState === WebSocket.OPEN || ws.readyState === WebSocket.CONNECTING) {
    const closed = new Promise((r) => ws.addEventListener("close", r));
    closingOurselves = true;
    ws.close();
    await closed;
  }
  return c;
}
