/**
 * Backfill throughput under Binance's published REST limit: one gap fetched by the real
 * `backfill` from the fake Binance enforcing 6000 weight per minute (historicalTrades: 25), with
 * the budget btcfeed uses. Reports trades/s next to the budget's ceiling for the same duration
 * (its burst plus its steady rate) and the exchange's own ceiling, and what the fake refused.
 *
 * `BTCFEED_BENCH_BACKFILL_TRADES` (default 100,000) sets the gap's size.
 */

import { backfill, gapRange } from "../lib/feed/backfill.ts";
import { RestBudget } from "../lib/feed/rest_budget.ts";
import { binance } from "../lib/exchanges/binance.ts";
import { startFakeExchange } from "../tests/support/fake_exchange.ts";
import { int, table } from "./_table.ts";

export async function run(): Promise<void> {
  const n = Number(Deno.env.get("BTCFEED_BENCH_BACKFILL_TRADES") ?? 100_000);
  const limits = binance.rest!.limits;
  const fake = await startFakeExchange({
    exchange: "binance",
    trades: n + 2,
    ratePerSec: 1_000_000,
    pauseWhileDisconnected: false,
    restLimits: { units: limits.units, windowMs: limits.windowMs, cost: limits.pageCost },
  });
  try {
    await fake.done;
    const budget = new RestBudget("binance", limits);
    const t = fake.tape;
    let got = 0;
    const started = performance.now();
    const r = await backfill(
      { adapter: binance, market: fake.market, restUrl: fake.restUrl, budget },
      gapRange({
        afterTradeId: t[0].tradeId,
        afterTs: t[0].ts,
        beforeTradeId: t.at(-1)!.tradeId,
        beforeTs: 0,
      }),
      { trades: (page) => void (got += page.length), rejects: () => {} },
    );
    const seconds = (performance.now() - started) / 1000;
    if (!r.closed || got !== n) throw new Error(`backfill incomplete: ${got} of ${n} (${r.error})`);
    const perPage = 1_000 / limits.pageCost;
    const budgetCeiling = ((budget.burst + budget.unitsPerMs * seconds * 1000) * perPage) / seconds;
    const steady = budget.unitsPerMs * 1000 * perPage;
    const published = (limits.units / limits.windowMs) * 1000 * perPage;
    console.log(table(["measure", "value"], [
      ["gap", `${int(n)} trades, ${r.pages} pages in ${seconds.toFixed(1)} s`],
      ["backfill throughput", `${int(got / seconds)} trades/s`],
      ["budget ceiling, same duration (burst + steady)", `${int(budgetCeiling)} trades/s`],
      ["budget steady ceiling (50 % of the published rate)", `${int(steady)} trades/s`],
      ["Binance's published ceiling (6000 weight/min)", `${int(published)} trades/s`],
      [
        "fake's 429s / 418s / early requests",
        `${fake.rest.rateLimited} / ${fake.rest.bans} / ${fake.rest.violations}`,
      ],
      ["most weight in any 60 s", `${int(fake.rest.maxUnitsIn(60_000))} of ${int(limits.units)}`],
    ]));
  } finally {
    await fake.stop();
  }
}

if (import.meta.main) await run();
