/**
 * The checks of single configuration values (numbers, booleans, choices, listen addresses, the
 * prefix, PEM text and readable files): each throws {@link ConfigError} naming where the value
 * came from. Leaf of lib/config.ts, which composes them.
 */

import { parseRedisUrl } from "./redis/url.ts";

/** A usage or configuration error: one line, exit code 2. */
export class ConfigError extends Error {
  override name = "ConfigError";
}

/** Where a value came from, for error messages: `--primary` or `BTCFEED_PRIMARY_URL`. */
export interface Sourced<T> {
  value: T;
  source: string;
}

/** A `host:port` listen address, or `off`. */
export interface ListenAddress {
  hostname: string;
  port: number;
}

export function parseHttp(s: Sourced<string>): ListenAddress | null {
  if (s.value === "off") return null;
  const m = /^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(s.value);
  const port = m ? Number(m[2]) : NaN;
  if (!m || port > 65535) {
    throw new ConfigError(
      `${s.source}: "${s.value}" must be host:port (e.g. 127.0.0.1:9464) or off`,
    );
  }
  return { hostname: m[1].replace(/^\[|\]$/g, ""), port };
}

export function parsePrefix(s: Sourced<string>): string {
  if (!/^[A-Za-z0-9_.:-]{1,64}$/.test(s.value)) {
    throw new ConfigError(`${s.source}: prefix must be 1-64 characters of A-Z a-z 0-9 _ . : -`);
  }
  return s.value;
}

/** A group name or feeder id: 1-64 characters of A-Z a-z 0-9 _ . : - (no spaces). */
export function parseName(s: Sourced<string>, what: string): string {
  if (!/^[A-Za-z0-9_.:-]{1,64}$/.test(s.value)) {
    throw new ConfigError(`${s.source}: ${what} must be 1-64 characters of A-Z a-z 0-9 _ . : -`);
  }
  return s.value;
}

export function parseBool(s: Sourced<string> | null): boolean {
  if (!s) return false;
  const v = s.value.toLowerCase();
  if (["1", "true", "yes", "on"].includes(v)) return true;
  if (["0", "false", "no", "off"].includes(v)) return false;
  throw new ConfigError(`${s.source}: "${s.value}" is not a boolean (use true or false)`);
}

export function parseChoice<T extends string>(
  s: Sourced<string> | null,
  choices: readonly T[],
): T | null {
  if (!s) return null;
  if ((choices as readonly string[]).includes(s.value)) return s.value as T;
  throw new ConfigError(`${s.source}: "${s.value}" must be one of ${choices.join(", ")}`);
}

export function parseInteger(s: Sourced<string> | null, fallback: number, min: number): number {
  if (!s) return fallback;
  const n = /^\d+$/.test(s.value) ? Number(s.value) : NaN;
  if (!Number.isSafeInteger(n) || n < min) {
    throw new ConfigError(`${s.source}: "${s.value}" must be a whole number ≥ ${min}`);
  }
  return n;
}

export function isPem(value: string): boolean {
  return value.trimStart().startsWith("-----BEGIN");
}

/** PEM text as given in the environment; only its shape is checked here, TLS checks the rest. */
export function checkPem(s: Sourced<string>): string {
  const pem = s.value.trim();
  if (!/^-----BEGIN CERTIFICATE-----[\s\S]+-----END CERTIFICATE-----$/.test(pem)) {
    throw new ConfigError(
      `${s.source}: PEM text must hold one or more -----BEGIN CERTIFICATE----- blocks`,
    );
  }
  return pem + "\n";
}

export function checkReadable(s: Sourced<string>): string {
  try {
    Deno.statSync(s.value);
  } catch {
    throw new ConfigError(`${s.source}: cannot read "${s.value}"`);
  }
  return s.value;
}

const DURATION_UNITS_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 };

/** `90s`, `30m`, `2h`, `500ms` (a number and a unit) → ms. */
export function parseDuration(s: Sourced<string>): number {
  const m = /^(\d+)(ms|s|m|h)$/.exec(s.value.trim());
  const ms = m ? Number(m[1]) * DURATION_UNITS_MS[m[2]] : NaN;
  if (!Number.isSafeInteger(ms)) {
    throw new ConfigError(`${s.source}: "${s.value}" must be a duration such as 90s, 30m or 2h`);
  }
  return ms;
}

/** The legacy names hash to different cluster slots: refused with a Cluster primary or failover. */
export function noLegacyOnCluster(source: string, urls: (Sourced<string> | null)[]): void {
  const cluster = urls.find((u) => u && /^rediss?\+cluster:/i.test(u.value));
  if (!cluster) return;
  throw new ConfigError(
    `${source}: the legacy keys cannot be written to a Redis Cluster (${cluster.source}): ` +
      "their names hash to different slots",
  );
}

/** A Redis URL that parses (see `parseRedisUrl`), or a ConfigError naming its source. */
export function checkRedisUrl(s: Sourced<string>): string {
  try {
    parseRedisUrl(s.value, s.source);
  } catch (e) {
    throw new ConfigError(e instanceof Error ? e.message : `${s.source}: invalid Redis URL`);
  }
  return s.value;
}
