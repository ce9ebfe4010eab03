import type { ApolloServer } from "@apollo/server";
import { expressMiddleware } from "@as-integrations/express5";
import express, { type ErrorRequestHandler, type Express } from "express";
import type { ContextBuilder, RequestContext } from "../context/context";
import type { Store } from "../store/store";

/** Larger bodies are refused with 413 before any parsing: no operation here needs more. */
const MAX_BODY = "64kb";

export interface AppParts {
  readonly apollo: ApolloServer<RequestContext>;
  readonly buildContext: ContextBuilder;
  readonly store: Store;
}

/** Transport: GraphQL at /graphql, liveness at /healthz, readiness at /readyz. */
export function createApp({ apollo, buildContext, store }: AppParts): Express {
  const app = express();
  app.disable("x-powered-by");

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

  app.use(
    "/graphql",
    express.json({ limit: MAX_BODY }),
    expressMiddleware(apollo, { context: async ({ req }) => buildContext(req) }),
  );

  app.use((_req, res) => {
    res.status(404).json({ errors: [{ message: "Not found", extensions: { code: "NOT_FOUND" } }] });
  });
  app.use(bodyErrors);
  return app;
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
