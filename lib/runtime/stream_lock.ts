/**
 * One `stream` per data directory: two writers interleaving one outbox would break its order.
 * The lock is a pid file; a lock left by a process that no longer exists is taken over.
 */

import { join } from "node:path";
import { isPidAlive } from "../store/lease.ts";

const LOCK_FILE = "stream.pid";

/**
 * Takes the stream lock of `dataDir`.
 * @throws Error naming the running stream's pid when another one holds it
 */
export function takeStreamLock(dataDir: string): () => void {
  const path = join(dataDir, LOCK_FILE);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      Deno.writeTextFileSync(path, String(Deno.pid), { createNew: true });
      return () => {
        try {
          if (Deno.readTextFileSync(path).trim() === String(Deno.pid)) Deno.removeSync(path);
        } catch { /* already gone */ }
      };
    } catch (e) {
      if (!(e instanceof Deno.errors.AlreadyExists)) throw e;
      const holder = Number(Deno.readTextFileSync(path).trim());
      if (holder && holder !== Deno.pid && isPidAlive(holder)) {
        throw new Error(`another btcfeed stream (pid ${holder}) is already using ${dataDir}`);
      }
      Deno.removeSync(path);
    }
  }
  throw new Error(`cannot take the stream lock ${path}`);
}
