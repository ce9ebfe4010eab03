import type { Role } from "@revocable-auth/verifier";

/**
 * The user directory: who exists, under which address, with which password hash and roles.
 * Directory state: a Postgres directory implements this port alone. The per-request read sees the
 * record too (exists, disabled, mfaEnabled): roles and disabled change through transitions
 * (transitions.ts), and a separate directory's createUser also writes the access record.
 */

/** The roles are shared with every verifier through the package. */
export { type Role } from "@revocable-auth/verifier";
export { ROLES } from "@revocable-auth/verifier/internal";

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
  /** Proven by a mailed link (verification, reset or email change); absent on older records: false. */
  readonly emailVerified?: boolean;
}

export interface Credentials {
  readonly user: UserRecord;
  readonly passwordHash: string;
}

/** Where a page of users starts: right after this user, in (createdAt, id) order. */
export interface UserPosition {
  /** Epoch ms. */
  readonly createdAt: number;
  readonly id: string;
}

/**
 * The admin `users(filter:)` query's conditions, all of which a listed user meets. Absent or null:
 * no condition. Every backend answers it; only Postgres answers it from an index.
 */
export interface UserFilter {
  /** A case-insensitive substring of the address. */
  readonly emailContains?: string | null;
  readonly role?: Role | null;
  readonly disabled?: boolean | null;
  /** Epoch ms: users created strictly after it. */
  readonly createdAfter?: number | null;
}

export interface UserPageRequest {
  readonly first: number;
  /** Any position in the order, whichever filter the page that gave it had: paging is by keyset. */
  readonly after: UserPosition | null;
  /** Only the users that meet it; the page's totalCount counts those too. */
  readonly filter?: UserFilter | null;
  /**
   * False: the caller will not read totalCount. A backend that counts matches by reading every
   * record (Redis, under a filter on more than createdAfter) then skips the count and answers null.
   * Absent: true.
   */
  readonly countTotal?: boolean;
}

export interface UserPage {
  /** At most `first` users, oldest first, ties broken by id. */
  readonly users: readonly UserRecord[];
  /** True: ask again from resumeAfter (or the last user). It may then find no more matches. */
  readonly hasNextPage: boolean;
  /** Null only when the request said countTotal: false and counting would have cost a scan. */
  readonly totalCount: number | null;
  /**
   * Where the next page starts when the backend stopped reading before it filled the page (a
   * bounded scan under a filter): past the last user listed, possibly with none listed. Absent or
   * null: right after the last user listed.
   */
  readonly resumeAfter?: UserPosition | null;
}

/** Whether a user meets every condition of the filter; how a backend that cannot query applies it. */
export function userMatches(user: UserRecord, filter: UserFilter): boolean {
  return (
    (filter.emailContains == null || user.email.toLowerCase().includes(filter.emailContains.toLowerCase())) &&
    (filter.role == null || user.roles.includes(filter.role)) &&
    (filter.disabled == null || user.disabled === filter.disabled) &&
    (filter.createdAfter == null || user.createdAt > filter.createdAfter)
  );
}

/** The order of listUsers: oldest first, ties broken by id. */
export function compareUserPositions(a: UserPosition, b: UserPosition): number {
  if (a.createdAt !== b.createdAt) return a.createdAt - b.createdAt;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/** Directory state (README.md). */
export interface UserStore {
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
}
