import type { Role } from "@revocable-auth/verifier";
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
  /** Set by the last rotation; absent before the first. */
  readonly rotation?: SessionRotation;
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
  /**
   * The password hash a login just checked: the session starts only while it is still the
   * user's, so a login that checked a password changed meanwhile starts nothing. Never stored.
   */
  readonly passwordHash?: string;
}

/** What the per-request check needs, read in one round trip. */
export interface AccessState {
  readonly user: UserRecord | null;
  readonly session: SessionRecord | null;
  /** Sessions created at or before this instant (epoch ms) were ended by "log out everywhere". */
  readonly cutoff: number | null;
  readonly accessTokenRevoked: boolean;
}

/** Which token `accessStates` reads the state of. */
export interface AccessCheck {
  readonly userId: string;
  readonly sessionId: string;
  readonly jti: string;
}

export type CreateSessionResult =
  /** `evicted`: the ids of the oldest sessions the cap (`maxPerUser`) ended in the same step. */
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

export interface RevokedAccessToken {
  readonly jti: string;
  /** Epoch ms: the revocation entry lives until then, when the token would have expired anyway. */
  readonly expiresAt: number;
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

  /** The per-request read: one round trip. */
  accessState(userId: string, sessionId: string, jti: string): Promise<AccessState>;

  /**
   * `accessState` for many tokens in one round trip per batch (a pipeline; on a Cluster the reads
   * go out together, one per slot): the periodic re-check of live connections. Same order as asked.
   */
  accessStates(checks: readonly AccessCheck[]): Promise<AccessState[]>;

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
