import { randomUUID } from "node:crypto";
import type { RequestHandler, Response } from "express";
import type { Logger } from "pino";
import type { Metrics } from "../metrics";

const CLIENT_REQUEST_ID = /^[A-Za-z0-9._-]{1,100}$/;

/** The auth outcome of a request: anonymous, ok, or the reason its token was refused. */
export type AuthOutcome = string;

export function setAuthOutcome(res: Response, outcome: AuthOutcome): void {
  res.locals.authOutcome = outcome;
}

export function requestIdOf(res: Response): string {
  return res.locals.requestId as string;
}

/**
 * One JSON log line per request, with a request id (the client's X-Request-Id when it is sane,
 * else a new one, echoed back) and the auth outcome. Headers and bodies are never logged, so no
 * token or password can reach the logs from here.
 */
export function requestLog(logger: Logger, metrics: Metrics): RequestHandler {
  return (req, res, next) => {
    const started = process.hrtime.bigint();
    const incoming = req.get("x-request-id");
    const requestId = incoming && CLIENT_REQUEST_ID.test(incoming) ? incoming : randomUUID();
    res.locals.requestId = requestId;
    res.setHeader("x-request-id", requestId);
    res.on("finish", () => {
      const auth = res.locals.authOutcome as AuthOutcome | undefined;
      if (auth !== undefined) metrics.requests.inc({ outcome: auth });
      logger.info(
        {
          requestId,
          method: req.method,
          // The path only: a query string can carry GraphQL variables.
          path: req.originalUrl.split("?")[0],
          status: res.statusCode,
          durationMs: Number(process.hrtime.bigint() - started) / 1e6,
          auth,
        },
        "request",
      );
    });
    next();
  };
}
