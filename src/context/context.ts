import type { IncomingHttpHeaders } from "node:http";
import type { Authenticator, Identity } from "../auth/authenticator";
import { toGraphQLError } from "../graphql/errors";
import { bearerToken } from "./bearer";

export interface RequestContext {
  /** Null for an anonymous request: public operations work, protected ones are refused. */
  readonly identity: Identity | null;
}

export type ContextBuilder = (request: { headers: IncomingHttpHeaders }) => Promise<RequestContext>;

/**
 * Runs before every operation: parse the header, verify the JWT, one store round trip. A token
 * that is presented and fails rejects the whole request (401), so a client never mistakes a
 * revoked session for an anonymous one.
 */
export function contextBuilder(authenticator: Authenticator): ContextBuilder {
  return async ({ headers }) => {
    const header = headers.authorization;
    if (header === undefined) return { identity: null };
    try {
      return { identity: await authenticator.authenticate(bearerToken(header)) };
    } catch (error) {
      throw toGraphQLError(error);
    }
  };
}
