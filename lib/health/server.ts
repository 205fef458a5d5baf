/**
 * The stream's HTTP endpoints: `GET /health` (application/health+json; 200 for pass and warn,
 * 503 for fail, as Kubernetes readiness probes expect) and `GET /metrics` (Prometheus text).
 *
 * Guarantees: read-only — no request changes the stream's state; anything else is 404, a method
 * other than GET/HEAD is 405; a handler that throws gives a 500 and is logged, never crashes the
 * stream; `close()` stops listening and waits for in-flight requests.
 */

import type { HealthDocument } from "./types.ts";
import { log } from "../log.ts";
import { errorText } from "../redact.ts";

/** Where to listen. Port 0 picks a free port (see {@link HttpServerHandle.port}). */
export interface HttpServerAddress {
  hostname: string;
  port: number;
}

/** What the endpoints serve; called once per request. */
export interface HttpServerHandlers {
  /** The current health document. */
  health: () => HealthDocument | Promise<HealthDocument>;
  /** The Prometheus text exposition. */
  metrics: () => string | Promise<string>;
  /** @default "text/plain; version=0.0.4; charset=utf-8" */
  metricsContentType?: string;
}

/** A listening server. */
export interface HttpServerHandle {
  hostname: string;
  /** The bound port (the real one when 0 was asked). */
  port: number;
  /** Stops listening and waits for in-flight requests. Idempotent. */
  close(): Promise<void>;
}

const PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8";
const HEALTH_JSON = "application/health+json";

/**
 * Starts serving `/health` and `/metrics` on `address`.
 * @throws Error naming the address when it cannot listen (in use, not permitted)
 */
export function startHttpServer(
  address: HttpServerAddress,
  handlers: HttpServerHandlers,
): HttpServerHandle {
  let server: Deno.HttpServer<Deno.NetAddr>;
  try {
    server = Deno.serve(
      { hostname: address.hostname, port: address.port, onListen() {} },
      (request) => handle(request, handlers),
    );
  } catch (e) {
    const why = errorText(e);
    throw new Error(`cannot serve HTTP on ${address.hostname}:${address.port}: ${why}`, {
      cause: e,
    });
  }
  let closing: Promise<void> | null = null;
  return {
    hostname: server.addr.hostname,
    port: server.addr.port,
    close() {
      closing ??= server.shutdown().then(() => server.finished);
      return closing;
    },
  };
}

/** Routes one request; exported for tests that need no socket. */
export async function handle(request: Request, handlers: HttpServerHandlers): Promise<Response> {
  const { pathname } = new URL(request.url);
  if (pathname !== "/health" && pathname !== "/metrics") {
    return text(404, "not found: try /health or /metrics\n");
  }
  if (request.method !== "GET" && request.method !== "HEAD") {
    return text(405, "method not allowed: use GET\n", { allow: "GET, HEAD" });
  }
  const head = request.method === "HEAD";
  try {
    if (pathname === "/health") {
      const document = await handlers.health();
      return new Response(head ? null : JSON.stringify(document), {
        status: document.status === "fail" ? 503 : 200,
        headers: { "content-type": HEALTH_JSON, "cache-control": "no-store" },
      });
    }
    const body = await handlers.metrics();
    return new Response(head ? null : body, {
      status: 200,
      headers: { "content-type": handlers.metricsContentType ?? PROMETHEUS_TEXT },
    });
  } catch (e) {
    log.error("http handler failed", {
      path: pathname,
      error: errorText(e),
    });
    return text(500, "internal error\n");
  }
}

function text(status: number, body: string, headers: Record<string, string> = {}): Response {
  return new Response(body, {
    status,
    headers: { "content-type": "text/plain; charset=utf-8", ...headers },
  });
}
