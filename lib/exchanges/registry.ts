/** Every exchange adapter by name, in the default priority order. */

import type { ExchangeAdapter } from "./adapter.ts";
import { binance } from "./binance.ts";
import { coinbase } from "./coinbase.ts";
import { kraken } from "./kraken.ts";
import { bitstamp } from "./bitstamp.ts";
import { okx } from "./okx.ts";
import { bybit } from "./bybit.ts";

/** Adapters keyed by exchange name. */
export const ADAPTERS: Readonly<Record<string, ExchangeAdapter>> = Object.freeze({
  binance,
  coinbase,
  kraken,
  bitstamp,
  okx,
  bybit,
});

/** Exchange names that have an adapter, in priority order. */
export const EXCHANGE_NAMES: readonly string[] = Object.freeze(Object.keys(ADAPTERS));

/** The adapter for `name`, or undefined when there is none. */
export function adapterFor(name: string): ExchangeAdapter | undefined {
  return Object.hasOwn(ADAPTERS, name) ? ADAPTERS[name] : undefined;
}
