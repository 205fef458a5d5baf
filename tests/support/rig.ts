/**
 * A complete btcfeed installation for fault tests: a fake Binance, a primary redis-server behind
 * a fault proxy (append-only with fsync always, so a kill -9 of the primary loses nothing it
 * acknowledged), an optional failover redis-server, a data directory, and the real CLI.
 */

import { Redis } from "ioredis";
import { type RedisServer, startRedis } from "./redis_server.ts";
import { type FaultProxy, startProxy } from "./tcp_proxy.ts";
import { type FakeExchange, startFakeExchange } from "./fake_exchange.ts";
import { type CliProcess, runCli, spawnCli, waitFor } from "./cli.ts";
import { describeVerdict, type Verdict, verifyMarket } from "./verify.ts";
import { marketKeys } from "../../lib/redis/keys.ts";
import { readStatus, type StreamStatus } from "../../lib/runtime/status.ts";

export interface RigOptions {
  trades: number;
  ratePerSec: number;
  failover?: boolean;
  /** Extra `stream` flags. */
  streamArgs?: string[];
  /** Fake exchange options. */
  pauseWhileDisconnected?: boolean;
}

export class Rig {
  primary!: RedisServer;
  proxy!: FaultProxy;
  failover: RedisServer | null = null;
  fake!: FakeExchange;
  dataDir!: string;
  stream: CliProcess | null = null;
  /** Reads the primary directly (not through the proxy). */
  reader!: Redis;
  #options: RigOptions;

  private constructor(options: RigOptions) {
    this.#options = options;
  }

  static async start(options: RigOptions): Promise<Rig> {
    const rig = new Rig(options);
    rig.primary = await startRedis({ args: ["--appendonly", "yes", "--appendfsync", "always"] });
    rig.proxy = await startProxy({ hostname: "127.0.0.1", port: rig.primary.port });
    if (options.failover) rig.failover = await startRedis();
    rig.fake = await startFakeExchange({
      exchange: "binance",
      trades: options.trades,
      ratePerSec: options.ratePerSec,
      pauseWhileDisconnected: options.pauseWhileDisconnected ?? true,
      // Trades "happen" now, so health sees fresh markets.
      startMicros: Date.now() * 1000,
    });
    rig.dataDir = await Deno.makeTempDir({ prefix: "btcfeed-rig-" });
    rig.reader = new Redis(rig.primary.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
    rig.reader.on("error", () => {});
    return rig;
  }

  /** Flags every subcommand shares: the primary through the proxy, the data dir. */
  get sharedArgs(): string[] {
    return [
      "--primary",
      this.proxy.url(),
      ...(this.failover ? ["--failover", this.failover.url] : []),
      "--data-dir",
      this.dataDir,
    ];
  }

  startStream(): CliProcess {
    this.stream = spawnCli([
      "stream",
      ...this.sharedArgs,
      "--exchanges",
      "binance",
      "--exchange-url",
      `binance=${this.fake.wsUrl}`,
      "--rest-url",
      `binance=${this.fake.restUrl}`,
      "--http",
      "off",
      "--hold-down-ms",
      "500",
      ...(this.#options.streamArgs ?? []),
    ], { BTCFEED_LOG_LEVEL: "debug" });
    return this.stream;
  }

  cli(args: string[]) {
    return runCli([...args, ...this.sharedArgs]);
  }

  status(): StreamStatus | null {
    try {
      return readStatus(this.dataDir);
    } catch {
      return null;
    }
  }

  async primaryCount(): Promise<number> {
    try {
      return await this.reader.xlen(marketKeys("btcfeed", this.fake.tape[0].market).trades);
    } catch {
      return -1;
    }
  }

  /** Waits until the fake has published everything and the primary holds every trade. */
  async settle(timeoutMs = 60_000): Promise<Verdict> {
    await this.fake.done;
    await waitFor(
      async () => (await this.primaryCount()) >= this.fake.tape.length,
      timeoutMs,
      `all ${this.fake.tape.length} trades on the primary (have ${await this.primaryCount()}, ` +
        `status ${JSON.stringify(this.status()?.mode)} outbox ${this.status()?.outbox.depth})`,
    );
    return await verifyMarket(this.reader, "btcfeed", this.fake.tape);
  }

  async stop(): Promise<void> {
    const log = this.stream ? this.stream.lines : [];
    await this.stream?.stop();
    this.reader.disconnect();
    await this.fake.stop();
    await this.proxy.stop();
    await this.primary.stop();
    await this.failover?.stop();
    await Deno.remove(this.dataDir, { recursive: true }).catch(() => {});
    if (Deno.env.get("BTCFEED_TEST_LOGS")) console.error(log.join("\n"));
  }
}

export function assertClean(v: Verdict): void {
  if (
    v.lost || v.duplicated || v.reordered || v.mismatched.length || v.badCandles.length || v.badLast
  ) {
    throw new Error(describeVerdict(v));
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
