import type { ApolloServerPlugin } from "@apollo/server";
import { unwrapResolverError } from "@apollo/server/errors";
import type { ValidationError } from "class-validator";
import { GraphQLError, type GraphQLFormattedError } from "graphql";
import type { Logger } from "pino";
import { ArgumentValidationError } from "type-graphql";
import { AuthError, type ErrorCode } from "../errors";

/** The one place AuthError codes become HTTP statuses (documented in the README's error table). */
const HTTP_STATUS: Partial<Record<ErrorCode, number>> = {
  UNAUTHENTICATED: 401,
  SERVICE_UNAVAILABLE: 503,
};

const INVALID_TOKEN_HEADER = 'Bearer error="invalid_token"';
/** Seconds a client should wait before retrying while the store is down (the client reconnects at least this often). */
const RETRY_AFTER_SECONDS = "1";

/**
 * For failures while building the context (a bad token, a store outage), mapped at the edge (the
 * transport calls this with what the context threw): Apollo answers with the status and headers
 * given in `extensions.http`.
 */
export function toGraphQLError(error: unknown): GraphQLError {
  if (!(error instanceof AuthError)) throw error;
  return fromAuthError(error);
}

/** The response headers an AuthError calls for, whether the context or a resolver raised it. */
function headersFor(error: AuthError): Map<string, string> {
  const headers = new Map<string, string>();
  if (error.code === "UNAUTHENTICATED") headers.set("www-authenticate", INVALID_TOKEN_HEADER);
  if (error.code === "SERVICE_UNAVAILABLE") headers.set("retry-after", RETRY_AFTER_SECONDS);
  return headers;
}

function fromAuthError(error: AuthError): GraphQLError {
  const headers = headersFor(error);
  return new GraphQLError(error.message, {
    originalError: error,
    extensions: {
      code: error.code,
      reason: error.reason,
      http: { status: HTTP_STATUS[error.code] ?? 400, headers },
    },
  });
}

/**
 * Shapes every error in a response: AuthErrors keep their code, reason and message; validation
 * errors name the fields and never echo their values (a password must not come back); anything
 * unexpected becomes a bare INTERNAL_SERVER_ERROR and is logged.
 */
export function errorFormatter(logger: Logger) {
  return (formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError => {
    const original = unwrapResolverError(error);
    const where = { locations: formatted.locations, path: formatted.path };
    if (original instanceof AuthError) {
      return { message: original.message, ...where, extensions: { code: original.code, reason: original.reason } };
    }
    if (original instanceof ArgumentValidationError) {
      return {
        message: describeValidation(original.extensions.validationErrors),
        ...where,
        extensions: { code: "BAD_USER_INPUT", reason: "INVALID_INPUT" },
      };
    }
    if (formatted.extensions?.code === "INTERNAL_SERVER_ERROR") {
      logger.error({ err: original }, "unexpected error while executing an operation");
      return { message: "Internal server error", ...where, extensions: { code: "INTERNAL_SERVER_ERROR" } };
    }
    const { stacktrace: _stacktrace, ...extensions } = formatted.extensions ?? {};
    return { ...formatted, extensions };
  };
}

/**
 * The codes that set the whole response's HTTP status even when a resolver raised them: they are
 * about the request, not about one field. Every other resolver error answers 200, as GraphQL expects.
 */
const RESOLVER_HTTP_STATUS: Partial<Record<ErrorCode, number>> = {
  SERVICE_UNAVAILABLE: 503,
};

/** Resolver errors answer 200, except the codes above, which set the status and headers (503 + Retry-After). */
export const httpStatusPlugin: ApolloServerPlugin = {
  async requestDidStart() {
    return {
      async willSendResponse({ response, errors }) {
        for (const error of errors ?? []) {
          const original = unwrapResolverError(error);
          if (!(original instanceof AuthError)) continue;
          const code: ErrorCode = original.code;
          const status = RESOLVER_HTTP_STATUS[code];
          if (status === undefined) continue;
          response.http.status = status;
          for (const [name, value] of headersFor(original)) response.http.headers.set(name, value);
          return;
        }
      },
    };
  },
};

/** Each constraint message names its field ("password must be 8 to 128 characters"). */
function describeValidation(errors: ValidationError[]): string {
  const messages = (list: ValidationError[]): string[] =>
    list.flatMap((error) => [...Object.values(error.constraints ?? {}), ...messages(error.children ?? [])]);
  return messages(errors).join("; ");
}
