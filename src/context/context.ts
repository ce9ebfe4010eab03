import type { IncomingHttpHeaders } from "node:http";
import type { Authenticator, Identity } from "../auth/authenticator";
import { toGraphQLError } from "../graphql/errors";
import { bearerToken } from "./bearer";

export interface RequestContext {
  /** Null for an anonymous request: public operations work, protected ones are refused. */
  readonly identity: Identity | null;
  /** Also in the response's X-Request-Id header and in every log line about this request. */
  readonly requestId: string;
}

export type ContextBuilder = (request: { headers: IncomingHttpHeaders }, requestId: string) => Promise<RequestContext>;

/**
 * Runs before every operation: parse the header, verify the JWT, one store round trip. A token
 * that is presented and fails rejects the whole request (401), so a client never mistakes a
 * revoked session for an anonymous one.
 */
export function contextBuilder(authenticator: Authenticator): ContextBuilder {
  return async ({ headers }, requestId) => {
    const header = headers.authorization;
    if (header === undefined) return { identity: null, requestId };
    try {
      return { identity: await authenticator.authenticate(bearerToken(header)), requestId };
    } catch (error) {
      throw toGraphQLError(error);
    }
  };
}
