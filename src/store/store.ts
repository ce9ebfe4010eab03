import type { Assurance, Role } from "@revocable-auth/verifier";
import type { Limiter, LimiterSpec } from "./limiter";

/** The roles, and the rule at the end, are shared with every verifier through the package. */
export { ROLES, type Role } from "@revocable-auth/verifier";

export interface UserRecord {
  readonly id: string;
  /** Lower-cased; unique. */
  readonly email: string;
  readonly roles: readonly Role[];
  /** Epoch milliseconds. */
  readonly createdAt: number;
  readonly disabled: boolean;
  /** True while the user has a second factor on: their aal1 tokens are refused (MFA_REQUIRED). Absent: false. */
  readonly mfaEnabled?: boolean;
}

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
   * How the session's user was authenticated (src/auth/assurance.ts): what every access token of
   * the session claims. Only stepUpSession raises it. Absent on sessions begun before it was
   * recorded, which count as aal1 ["pwd"].
   */
  readonly assurance?: Assurance;
  /** The credential id of the passkey that signed this session in; removing the passkey ends it. */
  readonly passkeyId?: string;
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

export interface Credentials {
  readonly user: UserRecord;
  readonly passwordHash: string;
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
}

/** What the per-request check needs, read in one round trip. */
export interface AccessState {
  readonly user: UserRecord | null;
  readonly session: SessionRecord | null;
  /** Sessions created at or before this instant (epoch ms) were ended by "log out everywhere". */
  readonly cutoff: number | null;
  readonly accessTokenRevoked: boolean;
}

export type CreateSessionResult =
  | { readonly status: "created"; readonly session: SessionRecord }
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
  | { readonly status: "ended" };

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
}

export type StepUpResult =
  | { readonly status: "raised"; readonly session: SessionRecord; readonly user: UserRecord }
  /** No live session: logged out, revoked, expired, cut off, or its user is gone or disabled. */
  | { readonly status: "ended" };

export interface RevokedAccessToken {
  readonly jti: string;
  /** Epoch ms: the revocation entry lives until then, when the token would have expired anyway. */
  readonly expiresAt: number;
}

/**
 * A WebAuthn credential of a user (src/auth/passkeys.ts). Only public material: the private key
 * never leaves the authenticator.
 */
export interface PasskeyRecord {
  /** The credential id, base64url, as the authenticator made it. */
  readonly id: string;
  readonly userId: string;
  readonly name: string;
  /** The COSE public key, base64url. */
  readonly publicKey: string;
  /** The last signature counter seen; 0 for an authenticator that does not count. */
  readonly counter: number;
  readonly transports: readonly string[];
  /** Backup eligible: a synced ("multi-device") passkey rather than one bound to its hardware. */
  readonly backupEligible: boolean;
  readonly backedUp: boolean;
  /** Epoch ms. */
  readonly createdAt: number;
  /** Epoch ms of the last sign-in with it; null before the first. */
  readonly lastUsedAt: number | null;
}

export type AddPasskeyResult = "added" | "taken" | "user_missing" | "limit";

export type UsePasskeyResult =
  | { readonly status: "used"; readonly passkey: PasskeyRecord }
  /** The counter did not go up although the authenticator counts: a possible clone; nothing changed. */
  | { readonly status: "counter_regressed"; readonly passkey: PasskeyRecord }
  | { readonly status: "missing" };

export type RemovePasskeyResult =
  /** `ended`: how many live sessions the passkey had started, ended in the same step. */
  | { readonly status: "removed"; readonly ended: number }
  | { readonly status: "missing" }
  /** No password and no other passkey: the user would have no way in. Nothing changed. */
  | { readonly status: "last_way_in" };

/** A challenge handed out with WebAuthn options, until its response comes back (or it expires). */
export interface WebAuthnChallenge {
  readonly ceremony: "registration" | "authentication";
  /** The base64url challenge, as the response's clientDataJSON must carry it. */
  readonly challenge: string;
  /** Registration: the signed-in user it was issued to; null for a sign-in. */
  readonly userId: string | null;
}

/** Where a page of users starts: right after this user, in (createdAt, id) order. */
export interface UserPosition {
  /** Epoch ms. */
  readonly createdAt: number;
  readonly id: string;
}

export interface UserPageRequest {
  readonly first: number;
  readonly after: UserPosition | null;
}

export interface UserPage {
  /** At most `first` users, oldest first, ties broken by id. */
  readonly users: readonly UserRecord[];
  readonly hasNextPage: boolean;
  readonly totalCount: number;
}

/**
 * The one interface between the auth services and storage. Every method that changes state is
 * one atomic step: in Redis a single command, MULTI or Lua script on keys that share the user's
 * hash tag (createUser alone takes two ordered steps, see the key layout in the verifier package's
 * keys.ts); in memory a synchronous function. The listings read in two steps. The contract suite in
 * test/contract holds both to it.
 */
export interface Store {
  /** Stores a new user and claims its email. False when the email is taken. */
  createUser(user: UserRecord, passwordHash: string): Promise<boolean>;
  findUserIdByEmail(email: string): Promise<string | null>;
  getUser(userId: string): Promise<UserRecord | null>;
  /** The user and their password hash, read together. */
  getCredentials(userId: string): Promise<Credentials | null>;
  /**
   * One page of users in (createdAt, id) order, after a position: a page boundary stays put while
   * users are added, since a new user sorts after every existing one (or, within the same ms, by id).
   */
  listUsers(page: UserPageRequest): Promise<UserPage>;
  /** Sets the flag; disabling also ends every session. Null when no such user. */
  setUserDisabled(userId: string, disabled: boolean): Promise<UserRecord | null>;

  /**
   * Starts a session unless the user is missing or disabled, or its password is no longer
   * `session.passwordHash` when that is given, atomically with those checks. With
   * `maxPerUser`, the user's oldest live sessions beyond it end in the same step.
   */
  createSession(session: NewSession, maxPerUser?: number): Promise<CreateSessionResult>;
  /** Rotates the refresh token when `presentedJti` is the current one; ends the session on reuse. */
  rotateSession(request: RotateRequest): Promise<RotateResult>;
  /** Raises the session's assurance with a new refresh-token family, in one step (StepUpRequest). */
  stepUpSession(request: StepUpRequest): Promise<StepUpResult>;
  /**
   * Ends one session and, when given, revokes one access token, in one atomic step.
   * True when a live session was ended.
   */
  endSession(userId: string, sessionId: string, revoke?: RevokedAccessToken): Promise<boolean>;
  /** Ends every session of the user with one cutoff write; returns how many were live. */
  endAllSessions(userId: string): Promise<number>;
  /** Ends every session of the user but `keepSessionId`, in one step; returns how many were live. */
  endOtherSessions(userId: string, keepSessionId: string): Promise<number>;
  /**
   * Stores a new password hash and ends every session but `keepSessionId`, in one step. False,
   * changing nothing, when `keepSessionId` is no longer live.
   */
  changePassword(userId: string, passwordHash: string, keepSessionId: string): Promise<boolean>;
  /** Replaces the user's roles. Null when no such user. */
  setUserRoles(userId: string, roles: readonly Role[]): Promise<UserRecord | null>;
  /**
   * The index of enabled admins, the guard that keeps at least one (see docs/revocation.md). A user
   * is added after becoming an enabled admin and removed before ceasing to be one.
   */
  addEnabledAdmin(userId: string): Promise<void>;
  /**
   * Removes the user from the index. With `keepOne`, refuses (false, nothing changed) when nobody
   * else would be left in it; one atomic step across every instance.
   */
  removeEnabledAdmin(userId: string, keepOne: boolean): Promise<boolean>;
  /** Live sessions, newest first. */
  listSessions(userId: string): Promise<SessionRecord[]>;

  /**
   * Stores a new passkey for its user: claims the credential id on the directory, then adds it to
   * the user's passkeys (at most `max`). "taken" when another user holds that credential id, or
   * this user already does.
   */
  addPasskey(passkey: PasskeyRecord, max: number): Promise<AddPasskeyResult>;
  /** Who holds this credential id, if anyone: the discoverable sign-in's lookup. */
  passkeyOwner(credentialId: string): Promise<string | null>;
  getPasskey(userId: string, credentialId: string): Promise<PasskeyRecord | null>;
  /** Oldest first. */
  listPasskeys(userId: string): Promise<PasskeyRecord[]>;
  /** Null when the user holds no such passkey. */
  renamePasskey(userId: string, credentialId: string, name: string): Promise<PasskeyRecord | null>;
  /**
   * Records a sign-in with the passkey: its new signature counter and last use, in one step that
   * refuses a counter that did not go up (unless both are 0, an authenticator that does not count).
   */
  usePasskey(userId: string, credentialId: string, counter: number): Promise<UsePasskeyResult>;
  /**
   * Removes a passkey and ends the sessions it started, in one step, unless it is the user's last
   * way in (no password, no other passkey); then frees its credential id on the directory.
   */
  removePasskey(userId: string, credentialId: string): Promise<RemovePasskeyResult>;
  /** Keeps a challenge under `id` for `ttlMs`. */
  saveChallenge(id: string, challenge: WebAuthnChallenge, ttlMs: number): Promise<void>;
  /** Returns the challenge and forgets it, in one step: a second take of the same id gets null. */
  takeChallenge(id: string): Promise<WebAuthnChallenge | null>;

  /** The per-request read: one round trip. */
  accessState(userId: string, sessionId: string, jti: string): Promise<AccessState>;

  /** Throttling counters kept by this store (not instrumented: each call is its own store call). */
  limiter(spec: LimiterSpec): Limiter;

  /** Resolves when the store answers; rejects otherwise. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** The order of listUsers: oldest first, ties broken by id. */
export function compareUserPositions(a: UserPosition, b: UserPosition): number {
  if (a.createdAt !== b.createdAt) return a.createdAt - b.createdAt;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/** The rule lives in the verifier package, shared with every service that checks revocation. */
export { isLiveSession } from "@revocable-auth/verifier";
