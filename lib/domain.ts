/** The failover core's states: one closed union; only `FailoverCore.#setMode` changes it. */
export type Mode = "primary" | "failover" | "syncing";
