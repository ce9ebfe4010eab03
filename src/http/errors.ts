import type { FastifyError, FastifyReply, FastifyRequest } from "fastify";
import type { Logger } from "pino";

/** A GraphQL-shaped error body, so every answer of this API has the same shape. */
function errorBody(message: string, code: string) {
  return { errors: [{ message, extensions: { code } }] };
}

export function notFound(_request: FastifyRequest, reply: FastifyReply): void {
  void reply.code(404).send(errorBody("Not found", "NOT_FOUND"));
}

/**
 * Transport failures (a malformed or oversized body, an unexpected throw) get a GraphQL-shaped
 * error, never an HTML page or a stack trace. GraphQL errors themselves never reach here: Apollo
 * answers them.
 */
export function transportErrors(logger: Logger, bodyLimitBytes: number) {
  return (error: FastifyError, _request: FastifyRequest, reply: FastifyReply): void => {
    const status = typeof error.statusCode === "number" && error.statusCode >= 400 && error.statusCode < 500 ? error.statusCode : 500;
    if (status === 500) logger.error({ err: error }, "unexpected error in the transport");
    const message =
      error.code === "FST_ERR_CTP_BODY_TOO_LARGE"
        ? `Request body is larger than ${bodyLimitBytes / 1024}kb`
        : status < 500
          ? "Request body is not valid JSON"
          : "Internal server error";
    void reply.code(status).send(errorBody(message, status < 500 ? "BAD_REQUEST" : "INTERNAL_SERVER_ERROR"));
  };
}
