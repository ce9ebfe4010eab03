import type { IncomingHttpHeaders } from "node:http";
import type { Authenticator, Identity } from "../auth/authenticator";
import { toGraphQLError } from "../graphql/errors";
import type { RefreshCookie } from "../http/refresh-cookie";
import { bearerToken } from "./bearer";

/** What the transport hands to every request's context. */
export interface Transport {
  /** Also in the response's X-Request-Id header and in every log line about this request. */
  readonly requestId: string;
  readonly refreshCookie: RefreshCookie;
  /** The socket's address, or the client X-Forwarded-For names when TRUST_PROXY trusts the proxy. */
  readonly clientIp: string;
}

export interface RequestContext extends Transport {
  /** Null for an anonymous request: public operations work, protected ones are refused. */
  readonly identity: Identity | null;
}

export type ContextBuilder = (request: { headers: IncomingHttpHeaders }, transport: Transport) => Promise<RequestContext>;

/**
 * Runs before every operation: parse the header, verify the JWT, one store round trip. A token
 * that is presented and fails rejects the whole request (401), so a client never mistakes a
 * revoked session for an anonymous one.
 */
export function contextBuilder(authenticator: Authenticator): ContextBuilder {
  return async ({ headers }, transport) => {
    const header = headers.authorization;
    if (header === undefined) return { identity: null, ...transport };
    try {
      return { identity: await authenticator.authenticate(bearerToken(header)), ...transport };
    } catch (error) {
      throw toGraphQLError(error);
    }
  };
}
