/** Every fake protocol by exchange name. */

import type { FakeProtocol } from "./protocol.ts";
import { binanceProtocol } from "./binance.ts";
import { coinbaseProtocol } from "./coinbase.ts";
import { krakenProtocol } from "./kraken.ts";
import { bitstampProtocol } from "./bitstamp.ts";
import { okxProtocol } from "./okx.ts";
import { bybitProtocol } from "./bybit.ts";

/** Fake protocols keyed by exchange name. */
export const FAKE_PROTOCOLS: Record<string, FakeProtocol> = {
  binance: binanceProtocol,
  coinbase: coinbaseProtocol,
  kraken: krakenProtocol,
  bitstamp: bitstampProtocol,
  okx: okxProtocol,
  bybit: bybitProtocol,
};
