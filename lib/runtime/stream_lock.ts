/**
 * One `stream` per data directory: two writers interleaving one store would break its order.
 *
 * The lock is an OS advisory lock (`flock`) on `<dataDir>/stream.lock`, held for the process's
 * life: the kernel releases it when the process ends, however it ends (`kill -9` included), so
 * nothing is ever guessed from a pid. The file holds the holder's pid for messages only, and is
 * never deleted (deleting would let a second process lock a new file while the first still holds
 * the old one). A `stream.pid` left by an older btcfeed is ignored.
 */

import { join } from "node:path";

export const LOCK_FILE = "stream.lock";

/**
 * Takes the stream lock of `dataDir`; the returned function releases it.
 * @throws Error naming the running stream's pid when another process holds it
 */
export function takeStreamLock(dataDir: string): () => void {
  const path = join(dataDir, LOCK_FILE);
  const file = Deno.openSync(path, { read: true, write: true, create: true });
  try {
    if (!file.tryLockSync(true)) {
      const holder = Deno.readTextFileSync(path).trim();
      throw new Error(
        `another btcfeed stream${holder ? ` (pid ${holder})` : ""} is already using ${dataDir}`,
      );
    }
    file.truncateSync(0);
    file.writeSync(new TextEncoder().encode(String(Deno.pid)));
  } catch (e) {
    file.close();
    throw e;
  }
  let released = false;
  return () => {
    if (released) return;
    released = true;
    file.close(); // closing the descriptor releases the lock
  };
}

/**
 * Whether a stream holds the lock of `dataDir`, tried without waiting and released at once:
 * `held`, `free` (no stream runs), or `absent` when there is no lock file to try (no stream of
 * this version ever ran there, or it cannot be opened): then the heartbeat decides. Creates nothing.
 */
export function streamLockState(dataDir: string): "held" | "free" | "absent" {
  let file: Deno.FsFile;
  try {
    file = Deno.openSync(join(dataDir, LOCK_FILE), { read: true });
  } catch {
    return "absent";
  }
  try {
    if (!file.tryLockSync(true)) return "held";
    file.unlockSync();
    return "free";
  } finally {
    file.close();
  }
}
