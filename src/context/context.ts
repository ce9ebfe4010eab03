import type { IncomingHttpHeaders } from "node:http";
import type { Authenticator, Identity } from "../auth/tokens/authenticator";
import type { AuditFilter } from "../auth/audit/audit-trail";
import type { AuditFeedItem } from "../live/audit-feed";
import type { SessionEventRecord } from "../live/session-events";
import { bearerToken } from "./bearer";

/**
 * The opt-in home of a browser client's refresh token: HttpOnly (page script never sees it),
 * Secure, SameSite=Strict by default (never sent cross-site, so it cannot ride a forged request;
 * with REFRESH_COOKIE_SAMESITE=none the Origin check in src/http/cors.ts keeps that true). The
 * transport implements it (src/http/refresh-cookie.ts).
 */
export interface RefreshCookie {
  read(): string | undefined;
  set(token: string, expiresAt: number): void;
  clear(): void;
}

/** What the transport hands to every request's context. */
export interface Transport {
  /** Also in the response's X-Request-Id header and in every log line about this request. */
  readonly requestId: string;
  readonly refreshCookie: RefreshCookie;
  /**
   * The client's IP address: the socket's peer, or, with TRUST_PROXY set, the nearest address in
   * X-Forwarded-For that is not a trusted proxy (docs/configuration.md#the-clients-address).
   */
  readonly clientIp: string;
  /** The User-Agent header, cut to 256 characters; for the audit trail only. */
  readonly userAgent?: string;
}

export interface RequestContext extends Transport {
  /** Null for an anonymous request: public operations work, protected ones are refused. */
  readonly identity: Identity | null;
  /** Over WebSocket only: what the connection's subscriptions listen to (src/live). */
  readonly live?: LiveSubscriptions;
}

export interface LiveSubscriptions {
  sessionEvents(): AsyncIterableIterator<SessionEventRecord>;
  /** Every instance's audit events from now on, filtered; for admins (the resolver checks). */
  auditEvents(filter: AuditFilter): Promise<AsyncIterableIterator<AuditFeedItem>>;
}

export type ContextBuilder = (request: { headers: IncomingHttpHeaders }, transport: Transport) => Promise<RequestContext>;

/**
 * Runs before every operation: parse the header, verify the JWT, one store round trip. A token
 * that is presented and fails rejects the whole request with its AuthError (the transport maps
 * it to 401 or 503), so a client never mistakes a revoked session for an anonymous one.
 */
export function contextBuilder(authenticator: Authenticator): ContextBuilder {
  return async ({ headers }, transport) => {
    const header = headers.authorization;
    if (header === undefined) return { identity: null, ...transport };
    return { identity: await authenticator.authenticate(bearerToken(header)), ...transport };
  };
}
