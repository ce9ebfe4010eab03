import type { IncomingHttpHeaders } from "node:http";
import { GraphQLError } from "graphql";
import { meetsAal, type Aal } from "./assurance";
import { failures, MESSAGES, type Failure, type Identity } from "./outcomes";
import type { Verifier } from "./verifier";

/** What the context helper puts in every request's context. */
export interface AuthContext {
  /** Null for an anonymous request: public operations work, `@Authorized` ones are refused. */
  readonly identity: Identity | null;
}

/**
 * A failure as Apollo Server answers it: `extensions.code` and `reason` as the auth API sends them,
 * and the HTTP status and headers in `extensions.http`, which Apollo applies and strips.
 */
export function toGraphQLError(failure: Failure): GraphQLError {
  return new GraphQLError(failure.message, {
    extensions: {
      code: failure.code,
      reason: failure.reason,
      ...(failure.check === undefined ? {} : { check: failure.check }),
      http: { status: failure.status, headers: new Map(Object.entries(failure.headers)) },
    },
  });
}

export interface AuthContextOptions {
  /**
   * The service's URL as its clients call it (https://notes.example.com/graphql): what a DPoP proof's
   * `htu` must name. Without it, http:// and the Host header, which is right only without TLS or a proxy in front.
   */
  readonly url?: string;
}

/**
 * For Apollo Server's `context` option (standalone, express or fastify integrations alike): a token
 * that is presented and fails rejects the whole request (401, or 503 while Redis is down), so a
 * client never mistakes a revoked session for an anonymous one. Spread the result into your own context.
 */
export function authContext(
  verifier: Verifier,
  options: AuthContextOptions = {},
): (args: { req: { headers: IncomingHttpHeaders; method?: string; url?: string } }) => Promise<AuthContext> {
  return async ({ req }) => {
    const proof = req.headers.dpop;
    const dpop = typeof proof === "string" ? { proof, method: req.method ?? "", url: options.url ?? `http://${req.headers.host ?? ""}${req.url ?? "/"}` } : undefined;
    const outcome = await verifier.authenticate(req.headers.authorization, dpop);
    if (!outcome.ok) throw toGraphQLError(outcome);
    return { identity: outcome.identity };
  };
}

/**
 * A type-graphql `authChecker`: `@Authorized()` needs a verified identity, `@Authorized("ADMIN")`
 * also the role, read in the revocation round trip. Refusals carry the auth API's codes and reasons
 * (AUTHENTICATION_REQUIRED, MISSING_ROLE) and, as there, answer with status 200.
 */
// An arrow function on purpose: type-graphql takes anything with a prototype for an AuthCheckerClass.
export const authChecker = ({ context }: { context: AuthContext }, required: readonly string[]): boolean => {
  const identity = context.identity;
  if (!identity) {
    throw new GraphQLError(MESSAGES.authenticationRequired, { extensions: { code: "UNAUTHENTICATED", reason: "AUTHENTICATION_REQUIRED" } });
  }
  if (required.length > 0 && !required.some((role) => (identity.roles as readonly string[]).includes(role))) {
    throw new GraphQLError(MESSAGES.missingRole(required), {
      extensions: { code: "FORBIDDEN", reason: "MISSING_ROLE" },
    });
  }
  return true;
};

/**
 * For a resolver that needs more than the service's `requiredAal`: refuses a token below
 * `required` with 403, MFA_REQUIRED when the user has a second factor to verify (or was accepted
 * fail-open, user unknown), MFA_ENROLLMENT_REQUIRED when they have none.
 */
export function requireAal(identity: Identity, required: Aal): void {
  if (meetsAal(identity.aal, required)) return;
  const enrolled = identity.user === null || identity.user.mfaEnabled === true;
  throw toGraphQLError(enrolled ? failures.mfaRequired() : failures.mfaEnrollmentRequired());
}
