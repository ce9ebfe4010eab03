import type { ApolloServer } from "@apollo/server";
import { expressMiddleware } from "@as-integrations/express5";
import express, { type ErrorRequestHandler, type Express } from "express";
import type { Logger } from "pino";
import type { JsonWebKeySet } from "../auth/signing-keys";
import type { TrustProxy } from "../config";
import type { ContextBuilder, RequestContext } from "../context/context";
import { AuthError } from "../errors";
import type { Metrics } from "../metrics";
import type { Store } from "../store/store";
import { explorer as explorerRoutes } from "./explorer";
import { refreshCookie } from "./refresh-cookie";
import { requestIdOf, requestLog, setAuthOutcome } from "./request-log";

/** Larger bodies are refused with 413 before any parsing: no operation here needs more. */
const MAX_BODY = "64kb";
/** Verifiers may cache the key set this long; a new key is published at least this long before it signs. */
const JWKS_CACHE_CONTROL = "public, max-age=300";

export interface AppParts {
  readonly apollo: ApolloServer<RequestContext>;
  readonly buildContext: ContextBuilder;
  readonly store: Store;
  readonly metrics: Metrics;
  readonly logger: Logger;
  /** Serves GraphiQL to browsers at GET /graphql. */
  readonly explorer: boolean;
  /** The public keys, served at /.well-known/jwks.json; null under an HMAC algorithm (404 there). */
  readonly jwks: JsonWebKeySet | null;
  readonly trustProxy?: TrustProxy;
}

/**
 * Transport: GraphQL at /graphql, liveness at /healthz, readiness at /readyz, metrics at /metrics,
 * the public keys at /.well-known/jwks.json under ES256/RS256, and, when enabled, the explorer at
 * /graphql for browsers.
 */
export function createApp({ apollo, buildContext, store, metrics, logger, explorer, jwks, trustProxy = null }: AppParts): Express {
  const app = express();
  app.disable("x-powered-by");
  app.set("trust proxy", trustProxy ?? false);
  // Responses are per-request GraphQL results; hashing each one for an ETag buys nothing.
  app.set("etag", false);
  app.use(requestLog(logger, metrics));

  app.get("/healthz", (_req, res) => {
    res.json({ status: "ok" });
  });
  app.get("/readyz", async (_req, res) => {
    try {
      await store.ping();
      res.json({ status: "ready" });
    } catch {
      res.status(503).json({ status: "unavailable", reason: "STORE_UNAVAILABLE" });
    }
  });
  app.get("/metrics", async (_req, res) => {
    res.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });

  if (jwks) {
    app.get("/.well-known/jwks.json", (_req, res) => {
      res.set("cache-control", JWKS_CACHE_CONTROL).json(jwks);
    });
  }

  if (explorer) app.use(explorerRoutes());
  app.use(
    "/graphql",
    express.json({ limit: MAX_BODY }),
    expressMiddleware(apollo, {
      context: async ({ req, res }) => {
        try {
          const clientIp = clientIpOf(req.ip ?? req.socket.remoteAddress);
          const context = await buildContext(req, { requestId: requestIdOf(res), refreshCookie: refreshCookie(req, res), clientIp });
          setAuthOutcome(res, context.identity ? "ok" : "anonymous");
          return context;
        } catch (error) {
          const original = (error as { originalError?: unknown }).originalError;
          setAuthOutcome(res, original instanceof AuthError ? original.reason : "error");
          throw error;
        }
      },
    }),
  );

  app.use((_req, res) => {
    res.status(404).json({ errors: [{ message: "Not found", extensions: { code: "NOT_FOUND" } }] });
  });
  app.use(bodyErrors);
  return app;
}

/** IPv4 clients of a dual-stack socket show up as ::ffff:a.b.c.d; count them as a.b.c.d. */
function clientIpOf(address: string | undefined): string {
  if (!address) return "unknown";
  return address.startsWith("::ffff:") && address.includes(".") ? address.slice(7) : address;
}

/** Malformed or oversized JSON bodies get a GraphQL-shaped error, never an HTML page or a 500. */
const bodyErrors: ErrorRequestHandler = (error, _req, res, next) => {
  if (res.headersSent) return next(error);
  const status = typeof error?.status === "number" && error.status < 500 ? error.status : 500;
  const message =
    error?.type === "entity.too.large"
      ? `Request body is larger than ${MAX_BODY}`
      : status < 500
        ? "Request body is not valid JSON"
        : "Internal server error";
  res.status(status).json({ errors: [{ message, extensions: { code: status < 500 ? "BAD_REQUEST" : "INTERNAL_SERVER_ERROR" } }] });
};
