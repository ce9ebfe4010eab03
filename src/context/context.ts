import type { IncomingHttpHeaders } from "node:http";
import type { DpopTarget } from "@revocable-auth/verifier/internal";
import type { DpopProofs } from "../auth/dpop/proofs";
import type { Authenticator, Identity } from "../auth/tokens/authenticator";
import type { AuditFilter } from "../auth/audit/audit-trail";
import type { AuditFeedItem } from "../live/audit-feed";
import type { SessionEventRecord } from "../live/session-events";
import { presentedToken } from "./bearer";

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

/**
 * The browser's short-lived cookie for the provider routes (/auth/oidc/), set by `linkIdentityUrl`:
 * it binds the link URL to the browser that asked, so the URL alone links nothing. HTTP only.
 */
export interface LinkCookie {
  set(value: string, ttlMs: number): void;
}

/** What the transport hands to every request's context. */
export interface Transport {
  /** Also in the response's X-Request-Id header and in every log line about this request. */
  readonly requestId: string;
  readonly refreshCookie: RefreshCookie;
  /** Absent over WebSocket, which sets no cookie. */
  readonly linkCookie?: LinkCookie;
  /**
   * The client's IP address: the socket's peer, or, with TRUST_PROXY set, the nearest address in
   * X-Forwarded-For that is not a trusted proxy (docs/configuration.md#the-clients-address).
   */
  readonly clientIp: string;
  /** The User-Agent header, cut to 256 characters; for the audit trail only. */
  readonly userAgent?: string;
  /** The catalog (src/i18n) Accept-Language chose, when the request sent one: the mails it causes are in that language. */
  readonly locale?: string;
  /**
   * The request a DPoP proof must be for: the method, and the URL as the client saw it (scheme and
   * host from X-Forwarded-* only behind TRUST_PROXY). Called only when a proof came.
   */
  readonly dpopTarget?: () => DpopTarget;
}

export interface RequestContext extends Transport {
  /** Null for an anonymous request: public operations work, protected ones are refused. */
  readonly identity: Identity | null;
  /** Over WebSocket only: what the connection's subscriptions listen to (src/live). */
  readonly live?: LiveSubscriptions;
  /**
   * The RFC 7638 thumbprint of the key whose DPoP proof came with this request, checked: a sign-in
   * or refresh binds its tokens to it (docs/security.md#dpop). Undefined: no proof (or DPOP=off).
   */
  readonly dpopKey?: string;
  /**
   * That proof's jti when it came without an access token (a sign-in or a refresh): a refresh
   * records it as it rotates. With a bound access token the per-request read has recorded it.
   */
  readonly dpopProofJti?: string;
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
export function contextBuilder(authenticator: Authenticator, dpop: DpopProofs | null = null): ContextBuilder {
  return async ({ headers }, transport) => {
    const header = headers.authorization;
    const proof = dpop?.enabled ? proofOf(headers) : undefined;
    if (header === undefined) {
      if (proof === undefined) return { identity: null, ...transport };
      // A sign-in or a refresh: the proof's key is what its tokens will be bound to.
      const checked = await dpop!.check(proof, targetOf(transport)());
      return { identity: null, ...transport, dpopKey: checked.jkt, dpopProofJti: checked.jti };
    }
    const identity = await authenticator.authenticate(presentedToken(header, proof, targetOf(transport)));
    return identity.jkt === undefined ? { identity, ...transport } : { identity, ...transport, dpopKey: identity.jkt };
  };
}

/** The DPoP header; two of them (joined with ", ") fail as a malformed proof. */
const proofOf = (headers: IncomingHttpHeaders): string | undefined => {
  const value = headers.dpop;
  return typeof value === "string" ? value : undefined;
};

const noTarget = (): DpopTarget => ({ method: "", url: "" });

/** A transport that cannot tell the request's URL (a test's) matches no proof. */
const targetOf = (transport: Transport) => transport.dpopTarget ?? noTarget;
