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
 * For failures while building the context (a bad token, a store outage): Apollo answers with the
 * status and headers given in `extensions.http`.
 */
export function toGraphQLError(error: unknown): GraphQLError {
  if (!(error instanceof AuthError)) throw error;
  return fromAuthError(error);
}

function fromAuthError(error: AuthError): GraphQLError {
  const headers = new Map<string, string>();
  if (error.code === "UNAUTHENTICATED") headers.set("www-authenticate", INVALID_TOKEN_HEADER);
  if (error.code === "SERVICE_UNAVAILABLE") headers.set("retry-after", RETRY_AFTER_SECONDS);
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

/** Resolver errors answer 200 as GraphQL expects, except a store outage, which answers 503. */
export const httpStatusPlugin: ApolloServerPlugin = {
  async requestDidStart() {
    return {
      async willSendResponse({ response, errors }) {
        const unavailable = errors?.some((error) => {
          const original = unwrapResolverError(error);
          return original instanceof AuthError && original.code === "SERVICE_UNAVAILABLE";
        });
        if (!unavailable) return;
        response.http.status = 503;
        response.http.headers.set("retry-after", RETRY_AFTER_SECONDS);
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
