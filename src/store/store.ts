import type { Limiter, LimiterSpec } from "./limiter";

/**
 * The one interface between the auth services and storage. Every method that changes state is
 * one atomic step: in Redis a single command, MULTI or Lua script on keys that share the user's
 * hash tag (createUser alone takes two ordered steps, see keys.ts); in memory a synchronous
 * function. The listings read in two steps. The contract suite in test/contract holds both to it.
 */
export const ROLES = ["USER", "ADMIN"] as const;
export type Role = (typeof ROLES)[number];

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
  | { readonly status: "user_missing" | "user_disabled" };

export type RotateResult =
  | { readonly status: "rotated"; readonly session: SessionRecord; readonly user: UserRecord }
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
}

export interface RevokedAccessToken {
  readonly jti: string;
  /** Epoch ms: the revocation entry lives until then, when the token would have expired anyway. */
  readonly expiresAt: number;
}

export interface Store {
  /** Stores a new user and claims its email. False when the email is taken. */
  createUser(user: UserRecord, passwordHash: string): Promise<boolean>;
  findUserIdByEmail(email: string): Promise<string | null>;
  getUser(userId: string): Promise<UserRecord | null>;
  /** The user and their password hash, read together. */
  getCredentials(userId: string): Promise<Credentials | null>;
  /** Every user, oldest first. */
  listUsers(): Promise<UserRecord[]>;
  /** Sets the flag; disabling also ends every session. Null when no such user. */
  setUserDisabled(userId: string, disabled: boolean): Promise<UserRecord | null>;

  /**
   * Starts a session unless the user is missing or disabled, atomically with that check. With
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
  /** Live sessions, newest first. */
  listSessions(userId: string): Promise<SessionRecord[]>;

  /** The per-request read: one round trip. */
  accessState(userId: string, sessionId: string, jti: string): Promise<AccessState>;

  /** Throttling counters kept by this store (not instrumented: each call is its own store call). */
  limiter(spec: LimiterSpec): Limiter;

  /** Resolves when the store answers; rejects otherwise. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** A session is live when it exists and began after the user's last "log out everywhere". */
export function isLiveSession(session: SessionRecord | null, cutoff: number | null): session is SessionRecord {
  return session !== null && session.createdAt > (cutoff ?? 0);
}
