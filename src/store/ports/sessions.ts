import type { Assurance } from "@revocable-auth/verifier/internal";
import type { UserRecord } from "./users";

/**
 * Sessions and revocation: the hot state every request reads. Stays in Redis whatever holds the
 * directory. Each step reads the user record (exists, disabled, mfaEnabled) atomically with the
 * session; with a separate directory that is the access record the directory's writes copy to
 * Redis (see README.md). createSession's credential checks (`passwordHash`,
 * `passkeyId`) also read directory state in the same step.
 */

/** The rule lives in the verifier package, shared with every service that checks revocation. */
export { isLiveSession } from "@revocable-auth/verifier/internal";

export interface SessionRecord {
  readonly id: string;
  readonly userId: string;
  readonly device: string | null;
  /** Epoch milliseconds, from the store's clock, so every instance orders sessions the same way. */
  readonly createdAt: number;
  readonly lastUsedAt: number;
  /** When the current refresh token, and with it the session, expires. */
  readonly expiresAt: number;
  /** The jti of the one refresh token that may rotate this session next. */
  readonly refreshJti: string;
  /** Set by the last rotation; absent before the first, and cleared by a step-up. */
  readonly rotation?: SessionRotation;
  /**
   * How the session's user was authenticated (src/auth/tokens/assurance.ts): what every access token of
   * the session claims. Only stepUpSession raises it. Absent on sessions begun before it was
   * recorded, which count as aal1 ["pwd"].
   */
  readonly assurance?: Assurance;
  /** The credential id of the passkey that signed this session in; removing the passkey ends it. */
  readonly passkeyId?: string;
  /**
   * Epoch ms, by the API's clock: when the session's user last proved a credential in it (the
   * sign-in, a step-up, reauthenticate). Adding a credential needs it recent (REAUTH_MAX_AGE_SECONDS).
   * Absent on sessions begun before it was recorded: never recent.
   */
  readonly authenticatedAt?: number;
  /**
   * True while the session waits for its second factor (PendingLimits): it does not count toward
   * the cap of full sessions, ends at its own short expiry, and stepUpSession makes it a full one.
   */
  readonly pending?: true;
  /**
   * The RFC 7638 thumbprint of the DPoP key the session was signed in with (docs/security.md#dpop):
   * every token of the session is bound to it, the refresh token included. Absent: bearer tokens.
   */
  readonly jkt?: string;
  /**
   * The provider sign-in that started the session (docs/social.md): the provider, its subject and
   * its session. A back-channel logout ends the session by them for as long as the session lives.
   */
  readonly federation?: ProviderLink;
}

/** Which provider session a session of this API came from. */
export interface ProviderLink {
  /** The provider's name in OIDC_PROVIDERS. */
  readonly provider: string;
  /** The provider's `sub` (GitHub's numeric user id). */
  readonly subject: string;
  /** The ID token's `sid`; null when the provider sends none. */
  readonly sid: string | null;
}

/**
 * What the last rotation did, enough to hand its outcome out again inside the grace window: the
 * current refresh token is re-signed from `refreshJti`, `issuedAt` and `expiresAt`. No token is stored.
 */
export interface SessionRotation {
  /** The jti the rotation replaced: the only one that gets the current token inside the window. */
  readonly previousJti: string;
  /** Epoch ms, from the store's clock. */
  readonly at: number;
  /** Epoch ms: the `iat` of the current refresh token. */
  readonly issuedAt: number;
}

export interface NewSession {
  readonly id: string;
  readonly userId: string;
  readonly device: string | null;
  readonly expiresAt: number;
  readonly refreshJti: string;
  readonly assurance: Assurance;
  /**
   * The password hash a login just checked: the session starts only while it is still the
   * user's, so a login that checked a password changed meanwhile starts nothing. Never stored.
   */
  readonly passwordHash?: string;
  /** A passkey sign-in: the session starts only while the user still holds this passkey. */
  readonly passkeyId?: string;
  /** Epoch ms, by the API's clock: the sign-in is the session's first authentication (Sessions.start sets it). */
  readonly authenticatedAt?: number;
  /** The DPoP key the sign-in proved possession of: the session's tokens are bound to it. */
  readonly jkt?: string;
  /** A provider sign-in: the provider session it came from, kept on the record. */
  readonly federation?: ProviderLink;
}

/** What the per-request check needs, read in one round trip. */
export interface AccessState {
  readonly user: UserRecord | null;
  readonly session: SessionRecord | null;
  /** Sessions created at or before this instant (epoch ms) were ended by "log out everywhere". */
  readonly cutoff: number | null;
  readonly accessTokenRevoked: boolean;
}

/** `accessState` for a DPoP-bound token, read in the same round trip as the record of its proof's jti. */
export interface BoundAccessState extends AccessState {
  /** The proof's jti was seen before within its window: a replay. */
  readonly proofReplayed: boolean;
}

/** Which token `accessStates` reads the state of. */
export interface AccessCheck {
  readonly userId: string;
  readonly sessionId: string;
  readonly jti: string;
}

/**
 * How a sign-in that proved one factor of a user who has a second one on (mfaEnabled, and the new
 * session's assurance is aal1) starts: as a pending session, with its own lifetime and its own
 * cap. Pending sessions are capped among themselves (the oldest pending one ends), are never
 * counted toward `maxPerUser` and never end a full session. The store decides, atomically with its
 * read of the user record, so a factor turned on meanwhile is seen.
 */
export interface PendingLimits {
  /** Epoch ms: the latest a pending session lives (and its refresh token with it). */
  readonly expiresAt: number;
  /** The most pending sessions a user may hold; one more ends the oldest pending one. */
  readonly maxPerUser: number;
}

export type CreateSessionResult =
  /** `evicted`: the ids of the oldest sessions of the same kind (full or pending) the cap ended in the same step. */
  | { readonly status: "created"; readonly session: SessionRecord; readonly evicted: readonly string[] }
  | { readonly status: "user_missing" | "user_disabled" | "credentials_changed" };

export type RotateResult =
  | { readonly status: "rotated"; readonly session: SessionRecord; readonly user: UserRecord }
  /**
   * The presented jti is the one the last rotation replaced, less than `graceMs` ago: nothing
   * changes, and the caller gets that rotation's outcome again (the session as it now stands).
   */
  | { readonly status: "grace"; readonly session: SessionRecord; readonly user: UserRecord }
  /** The presented refresh token was already rotated out: the session has been ended. */
  | { readonly status: "reused" }
  /** No live session: logged out, revoked, expired, cut off, or its user is gone or disabled. */
  | { readonly status: "ended" }
  /** The request's proof was already used (RotateRequest.proof): nothing changed. */
  | { readonly status: "proof_replayed" };

export interface RotateRequest {
  readonly userId: string;
  readonly sessionId: string;
  readonly presentedJti: string;
  readonly nextJti: string;
  readonly nextExpiresAt: number;
  /** Epoch ms: the next refresh token's `iat`, kept so the token can be signed again identically. */
  readonly nextIssuedAt: number;
  /** How long after a rotation the jti it replaced still gets its outcome; 0 = strict (reuse at once). */
  readonly graceMs: number;
  /**
   * The DPoP proof that came with a bound session's refresh: its jti is recorded for `ttlSeconds`
   * in the same step, in the keys the per-request read records access proofs in, and a jti seen
   * before changes nothing (`proof_replayed`).
   */
  readonly proof?: { readonly jti: string; readonly ttlSeconds: number };
}

/**
 * Raises a live session's assurance and starts a new refresh-token family: the current refresh jti
 * is replaced and the last rotation forgotten, so no refresh token issued before the step-up (nor
 * its grace-window replay) can rotate the session again.
 */
export interface StepUpRequest {
  readonly userId: string;
  readonly sessionId: string;
  readonly assurance: Assurance;
  readonly nextJti: string;
  readonly nextExpiresAt: number;
  /** Epoch ms, by the API's clock: the factor just proved is a fresh authentication. */
  readonly authenticatedAt: number;
  /**
   * The cap of full sessions (MAX_SESSIONS_PER_USER): a pending session the step-up makes full
   * counts toward it from now on, and the oldest full sessions beyond it end in the same step.
   */
  readonly maxPerUser?: number;
}

export type StepUpResult =
  /**
   * `upgraded`: the session was pending and is now a full one (its sign-in completes here);
   * `evicted`: the full sessions the cap ended for it.
   */
  | {
      readonly status: "raised";
      readonly session: SessionRecord;
      readonly user: UserRecord;
      readonly upgraded: boolean;
      readonly evicted: readonly string[];
    }
  /** No live session: logged out, revoked, expired, cut off, or its user is gone or disabled. */
  | { readonly status: "ended" };

export interface RevokedAccessToken {
  readonly jti: string;
  /** Epoch ms: the revocation entry lives until then, when the token would have expired anyway. */
  readonly expiresAt: number;
}

/** Hot state, in Redis whatever holds the directory (README.md). */
export interface SessionStore {
  /**
   * Starts a session unless the user is missing or disabled, or its password is no longer
   * `session.passwordHash` when that is given, atomically with those checks. With
   * `maxPerUser`, the user's oldest live full sessions beyond it end in the same step. With
   * `pending`, an aal1 session of a user who has a second factor on starts pending (PendingLimits).
   */
  createSession(session: NewSession, maxPerUser?: number, pending?: PendingLimits): Promise<CreateSessionResult>;
  /**
   * Rotates the refresh token when `presentedJti` is the current one; ends the session on reuse.
   * A pending session keeps its own expiry: `nextExpiresAt` never lengthens it.
   */
  rotateSession(request: RotateRequest): Promise<RotateResult>;
  /** Raises the session's assurance with a new refresh-token family, in one step (StepUpRequest). */
  stepUpSession(request: StepUpRequest): Promise<StepUpResult>;
  /**
   * Records that the session's user just proved a credential (`authenticatedAt`, never moved
   * back), in one step with the check that the session is live. False, changing nothing, otherwise.
   */
  markSessionAuthenticated(userId: string, sessionId: string, at: number): Promise<boolean>;
  /**
   * Ends one session and, when given, revokes one access token, in one atomic step.
   * The session as it was when it was live and this ended it; null when it was not.
   */
  endSession(userId: string, sessionId: string, revoke?: RevokedAccessToken): Promise<SessionRecord | null>;
  /**
   * Revokes access tokens of the user by jti, each until it expires, leaving their sessions live: an
   * OAuth access token revoked (RFC 7009), or the tokens of an OAuth grant that ended.
   */
  revokeAccessTokens(userId: string, tokens: readonly RevokedAccessToken[]): Promise<void>;
  /**
   * Ends every session of the user with one cutoff write, and cancels a pending email change in
   * the same step; returns how many were live.
   */
  endAllSessions(userId: string): Promise<number>;
  /** Ends every session of the user but `keepSessionId`, in one step; returns how many were live. */
  endOtherSessions(userId: string, keepSessionId: string): Promise<number>;
  /** Live full sessions, newest first: a pending one (waiting for its second factor) is not listed. */
  listSessions(userId: string): Promise<SessionRecord[]>;
  /** The per-request read: one round trip. */
  accessState(userId: string, sessionId: string, jti: string): Promise<AccessState>;
  /**
   * The per-request read of a DPoP-bound token, still one round trip: `accessState`, and the proof's
   * jti recorded for `ttlSeconds` unless it already was (then `proofReplayed`), in one atomic step.
   */
  boundAccessState(userId: string, sessionId: string, jti: string, proofJti: string, ttlSeconds: number): Promise<BoundAccessState>;
  /**
   * `accessState` for many tokens in one round trip per batch (a pipeline; on a Cluster the reads
   * go out together, one per slot): the periodic re-check of live connections. Same order as asked.
   */
  accessStates(checks: readonly AccessCheck[]): Promise<AccessState[]>;
}
