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
  /** Where the browser goes back to, already checked against ALLOWED_REDIRECT_URLS (or built by this API: an interaction's page). */
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
  /**
   * The uid of the OAuth provider's interaction this sign-in is for (Federation.startForInteraction):
   * the session goes to that interaction, and `redirectTo` is its page. Absent: a sign-in for an app.
   */
  readonly interaction?: string;
  /** When the sign-in started (epoch ms): a provider logout received since refuses it (ProviderIndexing.startedAt). */
  readonly startedAt?: number;
}

/** A session of this API started by a provider sign-in, and the provider session behind it. */
export interface ProviderSession extends ProviderLink {
  readonly userId: string;
  readonly sessionId: string;
}

/** How a session enters the provider's indexes. */
export interface ProviderIndexing {
  /**
   * A sign-in: when its flow started (epoch ms). The entry is refused (false) when a back-channel
   * logout of that provider session (`sid`, at any time) or of that subject (received at or after
   * `startedAt`) left its marker (markProviderLogout): the check and the entry are one atomic step
   * on the index's own slot, so a logout is never lost to a sign-in in flight. Absent (a refresh,
   * a step-up): no check.
   */
  readonly startedAt?: number;
  /**
   * The most entries an index keeps, a backstop behind the removal of ended sessions
   * (forgetProviderSession): past it, those that expire first go. At least the sessions a user can hold at once.
   */
  readonly cap?: number;
}

export interface FederationStateStore {
  /** Keeps a flow under `id` for `ttlMs`. */
  saveFlow(id: string, flow: FederationFlow, ttlMs: number): Promise<void>;
  /**
   * Returns the flow and forgets it, in one step: a callback is answered once. With `expected`, only
   * a flow of that provider and state is taken; any other stays as it was (null).
   */
  takeFlow(id: string, expected?: { readonly provider: string; readonly state: string }): Promise<FederationFlow | null>;
  /**
   * Records that the session came from the provider session, until `expiresAt` (epoch ms) at least:
   * Sessions calls it again with the session's new expiry at every refresh and step-up, so the
   * index lasts as long as the session however long it is refreshed. One atomic step; an entry is
   * never shortened.
   */
  recordProviderSession(session: ProviderSession, expiresAt: number, indexing?: ProviderIndexing): Promise<boolean>;
  /** The session ended: it leaves its provider session's and subject's indexes. */
  forgetProviderSession(session: ProviderSession): Promise<void>;
  /**
   * A back-channel logout for the provider session `sid` (when given) and the subject (when given)
   * was received at `at` (epoch ms): each leaves a marker for `ttlMs` that refuses a sign-in in
   * flight (recordProviderSession's `startedAt`). Written before the logout reads the indexes.
   */
  markProviderLogout(provider: string, sid: string | null, subject: string | null, at: number, ttlMs: number): Promise<void>;
  /** The sessions started by the provider session `sid`, or by the provider subject when `sid` is null. */
  providerSessions(provider: string, sid: string | null, subject: string): Promise<{ readonly userId: string; readonly sessionId: string }[]>;
  /** Whether a logout token's jti was used already (useLogoutTokenId), read without using it. */
  logoutTokenIdUsed(provider: string, jti: string): Promise<boolean>;
  /** True the first time a logout token's jti is presented (kept `ttlMs`), false every time after. */
  useLogoutTokenId(provider: string, jti: string, ttlMs: number): Promise<boolean>;
}
