// Follows one market's trades from a saved entry ID: a restart resumes where it stopped, no gap.
import { Redis } from "ioredis";

const market = Deno.args[0] ?? "binance:BTC-USDT";
const key = `btcfeed:{${market}}:trades`, saved = `${market.replace(":", "_")}.last-id`;
const redis = new Redis(Deno.env.get("REDIS_URL") ?? "redis://127.0.0.1:6379");
let lastId = await Deno.readTextFile(saved).catch(() => "0-0"); // "0-0": from the oldest kept
while (true) {
  const reply = await redis.xread("COUNT", 1000, "BLOCK", 5000, "STREAMS", key, lastId);
  for (const [id, fields] of reply?.[0][1] ?? []) {
    console.log(id, fields.join(" ")); // price, size, side, trade_id, ts, received_at[, flags]
    lastId = id;
  }
  await Deno.writeTextFile(saved, lastId); // saved after handling: at-least-once, ids dedupe
}
