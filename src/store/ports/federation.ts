import type { ProviderLink } from "./sessions";

/**
 * Hot state of provider sign-in (src/auth/federation): the flows in flight, the back-channel logout
 * tokens already used, and which sessions each provider session started. Stays in Redis whatever
 * holds the directory; every entry expires.
 */

/** What the callback checks a provider's answer against; kept server-side, found by the browser's cookie. */
export interface FederationFlow {
  readonly provider: string;
  readonly state: string;
  readonly nonce: string;
  /** The PKCE code_verifier (S256). */
  readonly codeVerifier: string;
  /** Where the browser goes back to, already checked against ALLOWED_REDIRECT_URLS. */
  readonly redirectTo: string;
  /** A link of the identity to this user (linkIdentityUrl); absent: a sign-in. */
  readonly linkUserId?: string;
  /** The session that asked for the link: the callback links only while it is live. */
  readonly linkSessionId?: string;
  /** The SHA-256 (base64url) of the link cookie set in the asking browser: the link URL starts only there. */
  readonly linkBindingHash?: string;
  /**
   * The start's `dpop_jkt` (RFC 9449 §10): the RFC 7638 thumbprint of the browser's DPoP key, which
   * the session this sign-in starts, and its refresh cookie, are bound to. Absent: bearer tokens.
   */
  readonly jkt?: string;
}

/** A session of this API started by a provider sign-in, and the provider session behind it. */
export interface ProviderSession extends ProviderLink {
  readonly userId: string;
  readonly sessionId: string;
}

export interface FederationStateStore {
  /** Keeps a flow under `id` for `ttlMs`. */
  saveFlow(id: string, flow: FederationFlow, ttlMs: number): Promise<void>;
  /** Returns the flow and forgets it, in one step: a callback is answered once. */
  takeFlow(id: string): Promise<FederationFlow | null>;
  /**
   * Records that the session came from the provider session, until `expiresAt` (epoch ms) at least:
   * Sessions calls it again with the session's new expiry at every refresh and step-up, so the
   * index lasts as long as the session however long it is refreshed. One atomic step; an entry is
   * never shortened.
   */
  recordProviderSession(session: ProviderSession, expiresAt: number): Promise<void>;
  /** The sessions started by the provider session `sid`, or by the provider subject when `sid` is null. */
  providerSessions(provider: string, sid: string | null, subject: string): Promise<{ readonly userId: string; readonly sessionId: string }[]>;
  /** Whether a logout token's jti was used already (useLogoutTokenId), read without using it. */
  logoutTokenIdUsed(provider: string, jti: string): Promise<boolean>;
  /** True the first time a logout token's jti is presented (kept `ttlMs`), false every time after. */
  useLogoutTokenId(provider: string, jti: string, ttlMs: number): Promise<boolean>;
}
