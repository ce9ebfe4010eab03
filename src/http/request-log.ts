import { randomUUID } from "node:crypto";
import type { FastifyPluginCallback, FastifyRequest } from "fastify";
import fp from "fastify-plugin";
import type { Logger } from "pino";
import type { Metrics } from "../metrics";

const CLIENT_REQUEST_ID = /^[A-Za-z0-9._-]{1,100}$/;

/** The auth outcome of a request: anonymous, ok, or the reason its token was refused. */
export type AuthOutcome = string;

declare module "fastify" {
  interface FastifyRequest {
    /** Set by the GraphQL route once the context is built (or refused); absent for other routes. */
    authOutcome: AuthOutcome | undefined;
  }
}

/** Fastify's genReqId: the client's X-Request-Id when it is sane, else a new one. */
export function requestIdFor(raw: { headers: Record<string, string | string[] | undefined> }): string {
  const incoming = raw.headers["x-request-id"];
  return typeof incoming === "string" && CLIENT_REQUEST_ID.test(incoming) ? incoming : randomUUID();
}

export interface RequestLogOptions {
  readonly logger: Logger;
  readonly metrics: Metrics;
}

/**
 * One JSON log line per request, with the request id (echoed back in X-Request-Id) and the auth
 * outcome. Headers and bodies are never logged, so no token or password can reach the logs from
 * here. The logger writes asynchronously (src/logger.ts), so this line costs the request no I/O.
 */
const plugin: FastifyPluginCallback<RequestLogOptions> = (app, { logger, metrics }, done) => {
  // This line's fields are fixed scalars that never hold a credential, so the logger's redaction
  // (wildcard paths, the costliest part of writing a line) is skipped for it alone.
  const requestLogger = logger.child({}, { redact: [] });
  app.decorateRequest("authOutcome", undefined);
  app.addHook("onRequest", (request, reply, next) => {
    reply.header("x-request-id", request.id);
    next();
  });
  app.addHook("onResponse", (request, reply, next) => {
    const auth = request.authOutcome;
    if (auth !== undefined) metrics.requests.inc({ outcome: auth });
    metrics.requestDuration.observe(
      { route: request.routeOptions.url ?? "unmatched", status_class: `${Math.floor(reply.statusCode / 100)}xx` },
      reply.elapsedTime / 1000,
    );
    requestLogger.info(
      {
        requestId: request.id,
        method: request.method,
        path: pathOf(request),
        status: reply.statusCode,
        durationMs: reply.elapsedTime,
        auth,
      },
      "request",
    );
    next();
  });
  done();
};

/** The path only: a query string can carry GraphQL variables. */
function pathOf(request: FastifyRequest): string {
  const query = request.url.indexOf("?");
  return query === -1 ? request.url : request.url.slice(0, query);
}

/** Hooks on the root instance, so every route (and the 404 handler) is logged. */
export const requestLog = fp(plugin, { name: "request-log", fastify: "5.x" });
