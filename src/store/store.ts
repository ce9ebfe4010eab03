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

  /** Starts a session unless the user is missing or disabled, atomically with that check. */
  createSession(session: NewSession): Promise<CreateSessionResult>;
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

  /** Resolves when the store answers; rejects otherwise. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** The order of listUsers: oldest first, ties broken by id. */
export function compareUserPositions(a: UserPosition, b: UserPosition): number {
  if (a.createdAt !== b.createdAt) return a.createdAt - b.createdAt;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/** A session is live when it exists and began after the user's last "log out everywhere". */
export function isLiveSession(session: SessionRecord | null, cutoff: number | null): session is SessionRecord {
  return session !== null && session.createdAt > (cutoff ?? 0);
}
