/**
 * Failover benchmark: how fast the real `FailoverCore` notices a failed primary, and the longest
 * time any trade waits before it is durable somewhere, for four faults of the primary:
 * - `reset`: the fault proxy aborts every connection with a TCP RST and resets new ones;
 * - `refuse`: the proxy closes every connection (FIN) and stops listening (ECONNREFUSED);
 * - `hang`: the proxy stops forwarding but keeps every socket open (a partition);
 * - `sigstop`: the primary redis-server itself is stopped with SIGSTOP.
 *
 * Set-up, as `btcfeed stream` builds it (lib/cli/stream.ts): a primary redis-server behind the
 * fault proxy and a failover redis-server, both opened with `openTarget` from a resolved config
 * (default deadline 500 ms), an `Outbox` in a temporary directory, `isConsolidated: () => true`.
 * The hold-down is shortened to 500 ms so the repetitions do not wait 3 s each for the switch back.
 *
 * Load: 2000 trades/s in batches of 10 every 5 ms, each batch with a scheduled arrival time; a
 * batch that could not be submitted on time (event loop busy) is submitted late but keeps its
 * arrival time, so a blocked event loop counts as stall. A trade is durable once the journal has
 * committed it (fsynced: `synchronous=FULL`; the journal commits in submission order), whatever
 * the primary does: that is what a received trade waits for.
 * Figures per fault, over `BTCFEED_BENCH_FAILOVER_REPS` runs (default 5), median and max:
 * - detection: fault injected -> the core's transition to `failover` (its own timestamp);
 * - stall: the longest arrival -> durable wait of any trade during the fault, and on the way back
 *   to the primary; `steady` is the same figure in the 700 ms before the fault.
 * At the end the primary's stream must hold every submitted trade exactly once, none dropped.
 *
 * Run: `deno run -A bench/failover_bench.ts` (or `deno task bench failover`).
 */

import { resolveConfig } from "../lib/config.ts";
import { FailoverCore } from "../lib/failover/core.ts";
import { Journal } from "../lib/store/journal.ts";
import { checkCredentials, closeTarget, openTarget } from "../lib/failover/targets.ts";
import { log } from "../lib/log.ts";
import { createRedis } from "../lib/redis/client.ts";
import { marketKeys } from "../lib/redis/keys.ts";
import { entryIdFor, type Trade } from "../lib/trade.ts";
import { type RedisServer, startRedis } from "../tests/support/redis_server.ts";
import { type FaultProxy, startProxy } from "../tests/support/tcp_proxy.ts";
import { envInt, median, ms, table } from "./_table.ts";

const MARKET = "binance:BTC-USDT";
const RATE_PER_SEC = 2_000;
const BATCH_EVERY_MS = 5;
const BATCH = (RATE_PER_SEC * BATCH_EVERY_MS) / 1000;
const STEADY_MS = 700;
const FAULT_MS = 1_500;
const HOLD_DOWN_MS = 500;
const SETTLE_TIMEOUT_MS = 30_000;

interface Rig {
  proxy: FaultProxy;
  primary: RedisServer;
}

/** A fault: how to inject and heal it, and the detection aim it is judged against. */
interface Fault {
  name: string;
  aimDetectMs: number;
  inject(rig: Rig): Promise<void> | void;
  heal(rig: Rig): Promise<void> | void;
}

const FAULTS: Fault[] = [
  { name: "reset", aimDetectMs: 100, inject: (r) => r.proxy.mode("reset"), heal: pass },
  { name: "refuse", aimDetectMs: 100, inject: (r) => r.proxy.mode("refuse"), heal: pass },
  { name: "hang", aimDetectMs: 1_000, inject: (r) => r.proxy.mode("hang"), heal: pass },
  {
    name: "sigstop",
    aimDetectMs: 1_000,
    inject: (r) => r.primary.pause(),
    heal: (r) => r.primary.resume(),
  },
];
const AIM_STALL_MS = 1_000;

function pass(rig: Rig): Promise<void> {
  return rig.proxy.mode("pass");
}

/** Submits trades at a steady rate and records how long each batch waits to become durable. */
class Load {
  submitted = 0;
  #core: FailoverCore;
  #committed: () => number;
  #t0 = 0;
  #timer: ReturnType<typeof setInterval> | undefined;
  #arrival: number[] = [];
  #end: number[] = [];
  #confirmed = 0;
  #windowMax = 0;
  #nextTradeId = 5_000_000_000;

  /** `committed()`: how many trades the journal has committed so far. */
  constructor(core: FailoverCore, committed: () => number) {
    this.#core = core;
    this.#committed = committed;
  }

  start(): void {
    this.#t0 = performance.now();
    this.#timer = setInterval(() => this.#tick(), 1);
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** True when every submitted trade is durable. */
  get caughtUp(): boolean {
    this.#check(performance.now());
    return this.#confirmed === this.#arrival.length;
  }

  /** The longest arrival -> durable wait since the previous call; starts a new window. */
  takeMax(): number {
    this.#check(performance.now());
    const max = this.#windowMax;
    this.#windowMax = 0;
    return max;
  }

  #tick(): void {
    if (this.#timer === undefined) return;
    const due = Math.floor((performance.now() - this.#t0) / BATCH_EVERY_MS) + 1;
    while (this.#arrival.length < due) {
      this.#arrival.push(this.#t0 + this.#arrival.length * BATCH_EVERY_MS);
      const batch = this.#batch();
      this.submitted += batch.length;
      this.#end.push(this.submitted);
      this.#core.submit(batch);
    }
    this.#check(performance.now());
  }

  #check(now: number): void {
    const durable = this.#committed();
    while (this.#confirmed < this.#end.length && this.#end[this.#confirmed] <= durable) {
      this.#windowMax = Math.max(this.#windowMax, now - this.#arrival[this.#confirmed]);
      this.#confirmed++;
    }
  }

  #batch(): Trade[] {
    const ts = Date.now();
    return Array.from({ length: BATCH }, (): Trade => {
      const n = this.#nextTradeId++;
      const tradeId = String(n);
      return {
        market: MARKET,
        tradeId,
        price: `${100_000 + (n % 997)}.${n % 100}`,
        size: `0.${String((n % 9_999) + 1).padStart(5, "0")}`,
        side: n % 2 ? "buy" : "sell",
        ts,
        receivedAt: ts,
        id: entryIdFor(ts, tradeId),
      };
    });
  }
}

interface Run {
  detectMs: number;
  faultStallMs: number;
  returnStallMs: number;
  steadyMs: number;
}

const sleep = (t: number) => new Promise((r) => setTimeout(r, t));

async function waitFor(what: string, ok: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!ok()) {
    if (performance.now() > deadline) throw new Error(`bench: timed out waiting for ${what}`);
    await sleep(1);
  }
}

/** Back on the primary with nothing pending. */
function isSettled(core: FailoverCore): boolean {
  return core.mode === "primary" && core.status().outbox.depth === 0;
}

async function oneRun(fault: Fault, rig: Rig, core: FailoverCore, load: Load): Promise<Run> {
  await waitFor("the primary again", () => isSettled(core) && load.caughtUp, SETTLE_TIMEOUT_MS);
  load.takeMax();
  await sleep(STEADY_MS);
  const steadyMs = load.takeMax();
  const failovers = core.counters.failovers;
  const injectedAt = Date.now();
  const started = performance.now();
  await fault.inject(rig);
  await waitFor(`failover after ${fault.name}`, () => core.mode !== "primary", 10_000);
  const transition = core.status().transitions.findLast((t) => t.to === "failover");
  if (!transition || core.counters.failovers !== failovers + 1) {
    throw new Error(`bench: expected exactly one failover after ${fault.name}`);
  }
  await sleep(Math.max(0, started + FAULT_MS - performance.now()));
  const faultStallMs = load.takeMax();
  await fault.heal(rig);
  await waitFor("the primary again", () => isSettled(core) && load.caughtUp, SETTLE_TIMEOUT_MS);
  return {
    detectMs: Math.max(0, transition.at - injectedAt),
    faultStallMs,
    returnStallMs: load.takeMax(),
    steadyMs,
  };
}

function report(fault: Fault, runs: Run[]): string[] {
  const pick = (f: (r: Run) => number) => runs.map(f);
  const detect = pick((r) => r.detectMs);
  const stall = pick((r) => Math.max(r.faultStallMs, r.returnStallMs));
  const met = Math.max(...detect) <= fault.aimDetectMs && Math.max(...stall) <= AIM_STALL_MS;
  return [
    fault.name,
    ms(median(detect)),
    ms(Math.max(...detect)),
    ms(median(pick((r) => r.faultStallMs))),
    ms(Math.max(...pick((r) => r.faultStallMs))),
    ms(Math.max(...pick((r) => r.returnStallMs))),
    ms(Math.max(...pick((r) => r.steadyMs))),
    `${fault.aimDetectMs} / ${AIM_STALL_MS}`,
    met ? "yes" : "NO",
  ];
}

/** Runs every fault `BTCFEED_BENCH_FAILOVER_REPS` times against one core and prints the table. */
export async function run(): Promise<void> {
  const reps = envInt("BTCFEED_BENCH_FAILOVER_REPS", 5);
  const primary = await startRedis();
  const failover = await startRedis();
  const proxy = await startProxy({ hostname: "127.0.0.1", port: primary.port });
  const dataDir = await Deno.makeTempDir({ prefix: "btcfeed-failover-bench-" });
  const config = resolveConfig(
    { primary: proxy.url(), failover: failover.url, dataDir, http: "off" },
    {},
  );
  const outbox = Journal.open(dataDir, { maxTrades: config.outboxMax });
  const primaryTarget = openTarget(config.primaryUrl, "primary", config);
  const failoverTarget = openTarget(config.failoverUrl!, "failover", config);
  const reader = createRedis(primary.url, { commandTimeoutMs: 5_000 });
  log.configure({ level: "error" }); // mode changes are the point here, not news
  const core = new FailoverCore({
    primary: primaryTarget,
    failover: failoverTarget,
    journal: outbox,
    isConsolidated: () => true,
    holder: `bench:${Deno.pid}:failover`,
    forced: false,
  }, { deadlineMs: config.deadlineMs, holdDownMs: HOLD_DOWN_MS });
  const load = new Load(core, () => outbox.maxSeq()); // the journal starts empty: seq = count
  const rig = { proxy, primary };
  try {
    await checkCredentials(primaryTarget, "primary", 1_000);
    await checkCredentials(failoverTarget, "failover", 1_000);
    core.start();
    load.start();
    const rows: string[][] = [];
    for (const fault of FAULTS) {
      const runs: Run[] = [];
      for (let i = 0; i < reps; i++) runs.push(await oneRun(fault, rig, core, load));
      rows.push(report(fault, runs));
    }
    load.stop();
    const c = core.counters;
    const written = () => c.writtenPrimary + c.replayed + c.duplicates >= load.submitted;
    await waitFor("the last trades", () => load.caughtUp && isSettled(core) && written(), 10_000);
    await reader.connect();
    const onPrimary = await reader.xlen(marketKeys(config.prefix, MARKET).trades);
    if (onPrimary !== load.submitted || c.dropped || c.outOfOrder) {
      throw new Error(
        `bench: ${load.submitted} trades submitted but the primary holds ${onPrimary} ` +
          `(dropped ${c.dropped}, out-of-order ${c.outOfOrder})`,
      );
    }
    console.log(
      `failover detection and ingestion stall (ms): deadline ${config.deadlineMs} ms (the ` +
        `reference), probe every 250 ms, hold-down ${HOLD_DOWN_MS} ms; ${RATE_PER_SEC} trades/s ` +
        `in batches of ${BATCH}; each fault ${reps}x for ${FAULT_MS} ms; outbox synchronous=FULL`,
    );
    console.log(table(
      [
        "fault",
        "detect med",
        "detect max",
        "stall med",
        "stall max",
        "return max",
        "steady max",
        "aim detect/stall",
        "met",
      ],
      rows,
    ));
    console.log(
      "detect: fault -> the core's switch to failover. stall: the longest wait of any trade " +
        "from arrival to durable (committed to the journal) during the fault; return: the same " +
        "while going back to the primary (hold-down, replay, switch); steady: before the fault",
    );
    console.log(
      `verified: the primary holds all ${load.submitted.toLocaleString("en-US")} submitted ` +
        `trades, 0 dropped; ${c.failovers} failovers, ${c.outboxAppended} trades went through ` +
        `the outbox (${c.duplicates} replayed twice, harmlessly)`,
    );
  } finally {
    load.stop();
    await core.close();
    log.configure({ level: "info" });
    closeTarget(primaryTarget);
    closeTarget(failoverTarget);
    reader.disconnect();
    outbox.close();
    await proxy.stop();
    await primary.stop();
    await failover.stop();
    await Deno.remove(dataDir, { recursive: true });
  }
}

if (import.meta.main) await run();
