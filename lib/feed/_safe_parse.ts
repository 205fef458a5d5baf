/**
 * An adapter's `parse` that cannot throw (private to lib/feed): adapters promise not to, and if
 * one does anyway the message counts as one rejected message, logged once, never as a crash.
 */

import type { ExchangeAdapter, ParseResult } from "../exchanges/adapter.ts";
import { log } from "../log.ts";
import { type Market, marketName } from "../trade.ts";
import { errorText } from "../redact.ts";

/** `adapter.parse(text, market, receivedAt)`, or a `wrong_type` reject when it throws. */
export function safeParse(
  adapter: ExchangeAdapter,
  text: string,
  market: Market,
  receivedAt: number,
): ParseResult {
  try {
    return adapter.parse(text, market, receivedAt);
  } catch (e) {
    log.error("feed.adapter_threw", { market: marketName(market), error: errorText(e) });
    return {
      trades: [],
      events: [],
      rejects: [{ reason: "wrong_type", sample: text.slice(0, 200) }],
    };
  }
}
