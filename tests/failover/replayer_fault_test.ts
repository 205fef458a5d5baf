/**
 * The replayer against a primary that drops mid-replay: the step rejects (the caller fails over)
 * and the rows stay pending. The write fails at once here ("Stream isn't writeable"), while the
 * step waits a turn before it reads ahead: that rejection must not go unhandled, which would end
 * the whole process (it did, in a chaos run).
 */

import { equal, rejects } from "node:assert/strict";
import { Redis } from "ioredis";
import { Journal } from "../../lib/store/journal.ts";
import { Replayer } from "../../lib/failover/replayer.ts";
import { TradeWriter } from "../../lib/redis/writer.ts";
import { startRedis } from "../support/redis_server.ts";
import { testTrade, withTempDir } from "./_outbox_support.ts";

Deno.test("a replay step on a primary that just went away rejects and leaves every row pending", async () => {
  const server = await startRedis();
  const redis = new Redis(server.url, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    lazyConnect: true,
  });
  redis.on("error", () => {});
  try {
    await withTempDir(async (dir) => {
      const journal = Journal.open(dir);
      try {
        journal.append(Array.from({ length: 200 }, (_, i) => testTrade(i)));
        await redis.connect();
        await server.stop();
        await new Promise((r) => setTimeout(r, 100)); // the client has seen the close
        const replayer = new Replayer(journal, new TradeWriter(redis), () => false, {
          holder: "test",
        });
        await rejects(replayer.step());
        equal(journal.depth(), 200);
      } finally {
        journal.close();
      }
    });
  } finally {
    redis.disconnect();
    await server.stop();
  }
});
