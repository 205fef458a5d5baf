/**
 * The one place that decides what a Redis failure means.
 *
 * {@link classifyRedisError} is the single source of truth for "transient or not": the failover
 * core fails over (and keeps probing) on `transient`, and stops with a configuration error on
 * `auth` and `tls` (retrying cannot fix a wrong password or an untrusted certificate). `fatal`
 * covers everything else: error replies that retrying would repeat (WRONGTYPE, script errors,
 * invalid trades). {@link describeRedisError} turns any of them into one readable line without
 * secrets or stack.
 *
 * Errors are recognised by class or code first (our {@link DeadlineError}, Node's `code`,
 * ioredis's `MaxRetriesPerRequestError`); Redis reports everything else only as reply text,
 * whose first word (WRONGPASS, LOADING, READONLY...) is the protocol's error code, so those are
 * matched here and nowhere else. ioredis's own "Connection is closed." has no class either.
 *
 * {@link redisFailureReason} names the failure for machines (status.json, health, `/metrics`):
 * a primary that answers but refuses writes says why in its reply code (READONLY, OOM, MISCONF,
 * NOPERM, LOADING), also from inside a script, whose error keeps the inner command's code.
 */

import { ReplyError } from "ioredis";
import { DeadlineError } from "../time.ts";
import type { RedisFailureReason } from "../domain.ts";

export type { RedisFailureReason };

/** What a Redis failure means for the caller. */
export type RedisErrorClass = "transient" | "auth" | "tls" | "fatal";

interface Facts {
  /** One of our own {@link DeadlineError}s (a missed deadline: transient). */
  deadline: boolean;
  name: string;
  code: string;
  message: string;
}

const TRANSIENT_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ECONNABORTED",
  "ETIMEDOUT",
  "EPIPE",
  "EHOSTUNREACH",
  "EHOSTDOWN",
  "ENETUNREACH",
  "ENETDOWN",
  "EAI_AGAIN",
  "ENOTFOUND",
  "EADDRNOTAVAIL",
  "ERR_SOCKET_CLOSED",
]);

const TLS_CODES = new Set([
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "CERT_HAS_EXPIRED",
  "CERT_NOT_YET_VALID",
  "CERT_UNTRUSTED",
  "CERT_REJECTED",
  "CERT_SIGNATURE_FAILURE",
  "ERR_TLS_CERT_ALTNAME_INVALID",
  "ERR_SSL_WRONG_VERSION_NUMBER",
]);

const AUTH_RE = /\b(WRONGPASS|NOAUTH|NOPERM)\b|invalid username-password|Client sent AUTH/;
const TLS_RE =
  /certificate|self[- ]signed|UnknownIssuer|NotValidForName|unable to verify|invalid peer|tls handshake|wrong version number|InvalidCertificate/i;
// A cluster being resharded or failing over (redirections ioredis gave up on, a slot map it could
// not refresh, no reachable node) is an outage too.
const TRANSIENT_RE =
  /Connection is closed|Stream isn't writeable|All sentinels are unreachable|timed out|socket hang up|connection (refused|reset|closed)|broken pipe|^(LOADING|BUSY|TRYAGAIN|CLUSTERDOWN|MASTERDOWN|READONLY|OOM|MISCONF|NOREPLICAS|NOSCRIPT|MOVED|ASK)\b|Cluster isn't ready|Failed to refresh slots cache|None of startup nodes is available|Too many Cluster redirections/i;

function facts(e: unknown): Facts[] {
  const out: Facts[] = [];
  const seen = new Set<unknown>();
  const queue: unknown[] = [e];
  while (queue.length && out.length < 10) {
    const x = queue.shift();
    if (x === null || x === undefined || seen.has(x)) continue;
    seen.add(x);
    if (typeof x === "object") {
      const o = x as { name?: unknown; code?: unknown; message?: unknown; cause?: unknown };
      out.push({
        deadline: x instanceof DeadlineError,
        name: String(o.name ?? ""),
        code: String(o.code ?? ""),
        message: String(o.message ?? ""),
      });
      if (x instanceof AggregateError) queue.push(...x.errors);
      queue.push(o.cause);
    } else {
      out.push({ deadline: false, name: "", code: "", message: String(x) });
    }
  }
  return out;
}

/**
 * Classifies a Redis failure (the error itself or any error in its `cause` chain):
 * - `auth`: WRONGPASS, NOAUTH, NOPERM — fix the user, password or ACL;
 * - `tls`: certificate verification failures — fix the CA or the server certificate;
 * - `transient`: refused, reset, unreachable, timeouts, closed connection (`Connection is
 *   closed`, `Stream isn't writeable`), no sentinel answering (`All sentinels are unreachable`), `MaxRetriesPerRequestError`, LOADING, BUSY, READONLY,
 *   OOM... — fail over and retry later;
 * - `fatal`: anything else (retrying would fail the same way).
 * The most specific class found anywhere in the chain wins: auth, then tls, then transient.
 */
export function classifyRedisError(e: unknown): RedisErrorClass {
  const all = facts(e);
  if (all.some((f) => AUTH_RE.test(f.message))) return "auth";
  if (all.some((f) => TLS_CODES.has(f.code) || TLS_RE.test(f.message))) return "tls";
  if (
    all.some((f) =>
      f.deadline || TRANSIENT_CODES.has(f.code) || f.name === "MaxRetriesPerRequestError" ||
      TRANSIENT_RE.test(f.message) || /^(connect|read|write|getaddrinfo) E[A-Z]+\b/.test(f.message)
    )
  ) {
    return "transient";
  }
  return "fatal";
}

const REFUSAL_RE = /^(READONLY|OOM|MISCONF|NOPERM|LOADING)\b/;
const REFUSALS: Record<string, RedisFailureReason> = {
  READONLY: "readonly",
  OOM: "oom",
  MISCONF: "misconf",
  NOPERM: "noperm",
  LOADING: "loading",
};

/**
 * The machine-readable reason of a Redis failure: a refusal's reply code (READONLY, OOM, MISCONF,
 * NOPERM, LOADING) anywhere in the chain first, else {@link classifyRedisError}'s verdict
 * (`transient` is `unreachable`, `fatal` is `error`).
 */
export function redisFailureReason(e: unknown): RedisFailureReason {
  for (const f of facts(e)) {
    const code = REFUSAL_RE.exec(f.message)?.[1];
    if (code) return REFUSALS[code];
  }
  const kind = classifyRedisError(e);
  return kind === "transient" ? "unreachable" : kind === "fatal" ? "error" : kind;
}

/** Removes credentials from URLs inside free text and keeps the first line, at most 200 chars. */
function clean(text: string): string {
  const line = text.split(/\r?\n/)[0]
    .replace(/([a-z][a-z0-9+.-]*:\/\/)([^\s/@:]*):[^\s/@]*@/gi, "$1$2:***@")
    .replace(/([a-z][a-z0-9+.-]*:\/\/)[^\s/@:]+@/gi, "$1***@");
  return line.length > 200 ? `${line.slice(0, 197)}...` : line;
}

function explain(e: unknown, kind: RedisErrorClass): string {
  const all = facts(e);
  const find = (re: RegExp) => all.find((f) => re.test(f.message) || re.test(f.code));
  switch (kind) {
    case "auth": {
      if (find(/WRONGPASS|invalid username-password/)) {
        return "authentication failed (WRONGPASS): check the user and password";
      }
      if (find(/NOAUTH/)) return "authentication required (NOAUTH): add user:password@ to the URL";
      const noperm = find(/NOPERM/);
      if (noperm) return `permission denied (NOPERM): ${clean(noperm.message)}`;
      return `authentication failed: ${clean(all[0]?.message ?? "")}`;
    }
    case "tls": {
      const f = all.find((x) => TLS_CODES.has(x.code)) ?? find(TLS_RE);
      const what = f?.code ? f.code : clean(f?.message ?? "");
      return `TLS certificate verification failed (${what}): check the CA file and the server certificate`;
    }
    case "transient": {
      if (find(/ECONNREFUSED|connection refused/i)) return "connection refused: is Redis running?";
      if (find(/ECONNRESET|connection reset|EPIPE|broken pipe/i)) return "connection reset";
      if (find(/ENOTFOUND|EAI_AGAIN/)) return "host not found (DNS): check the host name";
      if (all.some((f) => f.deadline) || find(/timed out|ETIMEDOUT/i)) {
        return "timed out: Redis is slow, hung or unreachable";
      }
      if (find(/^LOADING/)) return "loading its dataset (LOADING): writes resume once loaded";
      if (find(/^READONLY/)) {
        return "a read-only replica (READONLY) refuses writes: point the URL at the primary";
      }
      if (find(/^OOM/)) {
        return "out of memory (OOM): maxmemory reached and nothing evictable, writes refused";
      }
      if (find(/^MISCONF/)) {
        return "cannot persist (MISCONF): writes refused until saving the RDB/AOF works again";
      }
      if (all.some((f) => f.name === "MaxRetriesPerRequestError")) return "connection lost";
      return `not reachable: ${clean(all[0]?.message ?? "")}`;
    }
    default:
      return `redis error: ${clean(all[0]?.message ?? String(e))}`;
  }
}

/**
 * One readable line about `e` for logs and health output, e.g.
 * `primary redis://u:***@host:6380: authentication failed (WRONGPASS): check the user and password`.
 * Contains no password and no stack. Pass the URL already redacted (see `redactUrl`).
 */
export function describeRedisError(e: unknown, redactedUrl: string, role?: string): string {
  const where = role ? `${role} ${clean(redactedUrl)}` : clean(redactedUrl);
  return `${where}: ${explain(e, classifyRedisError(e))}`;
}

/** True for Redis's error reply to an XADD whose explicit ID is not above the stream's top. */
export function isIdNotAboveTop(e: unknown): boolean {
  return e instanceof ReplyError && /equal or smaller than the target stream top item/.test(
    (e as Error).message,
  );
}
