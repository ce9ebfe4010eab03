import type { ApolloServerPlugin, BaseContext, GraphQLRequestListener } from "@apollo/server";
import { unwrapResolverError } from "@apollo/server/errors";
import { DPOP_CHALLENGE, INVALID_TOKEN_CHALLENGE, STORE_RETRY_AFTER, USE_DPOP_NONCE_CHALLENGE } from "@revocable-auth/verifier/internal";
import type { ValidationError } from "class-validator";
import { GraphQLError, type GraphQLFormattedError } from "graphql";
import type { Logger } from "pino";
import { ArgumentValidationError } from "type-graphql";
import { AuthError, ThrottledError, type ErrorCode } from "../errors";

/** The one place AuthError codes become HTTP statuses (documented in docs/api.md's error table). */
const HTTP_STATUS: Partial<Record<ErrorCode, number>> = {
  UNAUTHENTICATED: 401,
  TOO_MANY_REQUESTS: 429,
  SERVICE_UNAVAILABLE: 503,
};

/**
 * Reasons answered with a status of their own rather than their code's: a missing second factor is
 * 403 (docs/mfa.md), and so is a session that must reauthenticate before adding a credential.
 */
const HTTP_STATUS_BY_REASON: Partial<Record<string, number>> = {
  MFA_REQUIRED: 403,
  MFA_ENROLLMENT_REQUIRED: 403,
  MFA_LOCKED: 403,
  REAUTHENTICATION_REQUIRED: 403,
  // RFC 6750 §3.1: a token without the scope the request needs.
  INSUFFICIENT_SCOPE: 403,
};

/** 401s about a DPoP proof: RFC 9449's challenge (with the algorithms a client may use) instead of the bearer one. */
const DPOP_REASONS: ReadonlySet<string> = new Set(["DPOP_PROOF_REQUIRED", "INVALID_DPOP_PROOF", "DPOP_PROOF_REPLAYED"]);

/**
 * Resolver errors answer 200, as GraphQL expects, except these: a client must be able to tell
 * "wait and retry" from a verdict without reading the body. First match wins.
 */
const RESOLVER_STATUS_CODES: readonly ErrorCode[] = ["SERVICE_UNAVAILABLE", "TOO_MANY_REQUESTS"];

/**
 * For failures while building the context (a bad token, a store outage), mapped at the edge (the
 * transport calls this with what the context threw): Apollo answers with the status and headers
 * given in `extensions.http`.
 */
export function toGraphQLError(error: unknown): GraphQLError {
  if (!(error instanceof AuthError)) throw error;
  return fromAuthError(error);
}

function fromAuthError(error: AuthError): GraphQLError {
  const headers = headersFor(error);
  if (error.code === "UNAUTHENTICATED" && !DPOP_REASONS.has(error.reason)) headers.set("www-authenticate", INVALID_TOKEN_CHALLENGE);
  return new GraphQLError(error.message, {
    originalError: error,
    extensions: {
      ...error.extensions,
      code: error.code,
      reason: error.reason,
      http: { status: HTTP_STATUS_BY_REASON[error.reason] ?? HTTP_STATUS[error.code] ?? 400, headers },
    },
  });
}

function headersFor(error: AuthError): Map<string, string> {
  const headers = new Map<string, string>();
  if (DPOP_REASONS.has(error.reason)) {
    // A missing server nonce: RFC 9449 §8's challenge, and the nonce to sign with.
    const nonce = error.extensions?.dpopNonce;
    headers.set("www-authenticate", typeof nonce === "string" ? USE_DPOP_NONCE_CHALLENGE : DPOP_CHALLENGE);
    if (typeof nonce === "string") headers.set("dpop-nonce", nonce);
  }
  if (error.code === "SERVICE_UNAVAILABLE") headers.set("retry-after", STORE_RETRY_AFTER);
  if (error instanceof ThrottledError) headers.set("retry-after", String(error.retryAfterSeconds));
  return headers;
}

/** graphql-js's parser aborting at MAX_TOKENS ("more that" in graphql 16); reported like the other operation limits. */
const TOKEN_LIMIT_MESSAGE = /^Syntax Error: Document contains more th(?:an|at) (\d+) tokens/;

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
      return { message: original.message, ...where, extensions: { ...original.extensions, code: original.code, reason: original.reason } };
    }
    if (original instanceof ArgumentValidationError) {
      return {
        message: describeValidation(original.extensions.validationErrors),
        ...where,
        extensions: { code: "BAD_USER_INPUT", reason: "INVALID_INPUT" },
      };
    }
    const tokenLimit = TOKEN_LIMIT_MESSAGE.exec(formatted.message);
    if (tokenLimit) {
      return { message: `Token limit of ${tokenLimit[1]} exceeded (MAX_TOKENS)`, extensions: { code: "GRAPHQL_VALIDATION_FAILED" } };
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
 * Resolver errors answer 200 as GraphQL expects, except a store outage (503), a throttled attempt
 * (429, with Retry-After), a refused DPoP proof (401, with the DPoP challenge), a missing second
 * factor or a reauthentication (403) and an unexpected failure (500, details in the log only).
 */
const httpStatusListener: GraphQLRequestListener<BaseContext> = {
  async willSendResponse({ response, errors }) {
    if (errors === undefined || errors.length === 0) return;
    const originals = errors.map((error) => unwrapResolverError(error));
    if (originals.some(isUnexpected)) {
      response.http.status = 500;
      return;
    }
    for (const code of RESOLVER_STATUS_CODES) {
      const error = originals.find((original) => original instanceof AuthError && original.code === code) as AuthError | undefined;
      if (!error) continue;
      response.http.status = HTTP_STATUS[code];
      for (const [name, value] of headersFor(error)) response.http.headers.set(name, value);
      return;
    }
    // A refused proof at sign-in or refresh is the same verdict as on any request: 401 with the DPoP challenge.
    const dpop = originals.find((original) => original instanceof AuthError && DPOP_REASONS.has(original.reason)) as AuthError | undefined;
    if (dpop) {
      response.http.status = 401;
      for (const [name, value] of headersFor(dpop)) response.http.headers.set(name, value);
      return;
    }
    // A refusal for want of a second factor or a recent authentication is a verdict a client acts on (verify, enrol, reauthenticate): 403.
    const forbidden = originals.find((original) => original instanceof AuthError && HTTP_STATUS_BY_REASON[original.reason] !== undefined) as AuthError | undefined;
    if (forbidden) {
      response.http.status = HTTP_STATUS_BY_REASON[forbidden.reason]!;
    }
  },
};
/** The same listener for every request (it keeps no state): a request without errors costs one check. */
export const httpStatusPlugin: ApolloServerPlugin = {
  requestDidStart: () => Promise.resolve(httpStatusListener),
};

/** A plain Error thrown by a resolver: a bug or a store fault that is not an outage. */
function isUnexpected(error: unknown): boolean {
  return error instanceof Error && !(error instanceof GraphQLError) && !(error instanceof AuthError) && !(error instanceof ArgumentValidationError);
}

/** Each constraint message names its field ("password must be 8 to 128 characters"). */
function describeValidation(errors: ValidationError[]): string {
  const messages = (list: ValidationError[]): string[] =>
    list.flatMap((error) => [...Object.values(error.constraints ?? {}), ...messages(error.children ?? [])]);
  return messages(errors).join("; ");
}
