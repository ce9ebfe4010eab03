import { randomUUID } from "node:crypto";
import type { Logger } from "pino";
import { accountDisabled, AuthError, badInput, invalidCredentials } from "../errors";
import { decodeCursor, encodeCursor } from "./cursors";
import type { Role, Store, UserRecord } from "../store/store";
import type { Clock } from "../clock";
import type { Passwords } from "./passwords";
import type { RevocationListener } from "./revocation";
import type { AuthResult, Sessions } from "./sessions";

export interface AccountInput {
  readonly email: string;
  readonly password: string;
  readonly device?: string | null;
}

/** The page size of `users` when none is asked for, and the most one page may hold. */
export const USERS_PAGE_DEFAULT = 50;
export const USERS_PAGE_MAX = 100;

export interface UsersPage {
  readonly edges: readonly { readonly cursor: string; readonly user: UserRecord }[];
  readonly hasNextPage: boolean;
  /** The last edge's cursor; null on an empty page. */
  readonly endCursor: string | null;
  readonly totalCount: number;
}

export const normalizeEmail = (email: string) => email.trim().toLowerCase();

const userNotFound = () => new AuthError("NOT_FOUND", "USER_NOT_FOUND", "No such user");

/** Users: registration, login, and what admins do to them. */
export class Accounts {
  constructor(
    private readonly store: Store,
    private readonly passwords: Passwords,
    private readonly sessions: Sessions,
    private readonly clock: Clock,
    private readonly onRevoked: RevocationListener = () => undefined,
  ) {}

  async register(input: AccountInput, roles: readonly Role[] = ["USER"]): Promise<AuthResult> {
    const user = await this.create(input.email, input.password, roles);
    return this.sessions.start(user, input.device ?? null);
  }

  /** Unknown email and wrong password answer alike, after the same argon2 work. */
  async login(input: AccountInput): Promise<AuthResult> {
    const userId = await this.store.findUserIdByEmail(normalizeEmail(input.email));
    const credentials = userId === null ? null : await this.store.getCredentials(userId);
    const valid = credentials
      ? await this.passwords.verify(credentials.passwordHash, input.password)
      : await this.passwords.verifyAgainstNothing(input.password);
    if (!credentials || !valid) throw invalidCredentials();
    if (credentials.user.disabled) throw accountDisabled();
    return this.sessions.start(credentials.user, input.device ?? null);
  }

  /** Creates the configured admin unless that email exists already; safe to run at every start. */
  async ensureAdmin(email: string, password: string, logger: Logger): Promise<void> {
    const existingId = await this.store.findUserIdByEmail(normalizeEmail(email));
    if (existingId !== null) {
      const existing = await this.store.getUser(existingId);
      if (existing && !existing.roles.includes("ADMIN")) {
        logger.warn({ userId: existingId }, "ADMIN_EMAIL belongs to an existing user without the ADMIN role; left unchanged");
      }
      return;
    }
    try {
      const admin = await this.create(email, password, ["USER", "ADMIN"]);
      logger.info({ userId: admin.id }, "created the admin user from ADMIN_EMAIL");
    } catch (error) {
      // Another instance created it between our check and our write: that is the idempotent outcome.
      if (!(error instanceof AuthError && error.reason === "EMAIL_TAKEN")) throw error;
    }
  }

  async getUser(userId: string): Promise<UserRecord> {
    const user = await this.store.getUser(userId);
    if (!user) throw userNotFound();
    return user;
  }

  /** One page of users, oldest first; `first` from 1 to USERS_PAGE_MAX, `after` a cursor from a previous page. */
  async listUsers(first: number, after: string | null): Promise<UsersPage> {
    if (!Number.isInteger(first) || first < 1 || first > USERS_PAGE_MAX) {
      throw badInput(`first must be from 1 to ${USERS_PAGE_MAX}, got ${first}`);
    }
    const page = await this.store.listUsers({ first, after: after === null ? null : decodeCursor(after) });
    const edges = page.users.map((user) => ({ cursor: encodeCursor(user), user }));
    return { edges, hasNextPage: page.hasNextPage, endCursor: edges.at(-1)?.cursor ?? null, totalCount: page.totalCount };
  }

  async setDisabled(userId: string, disabled: boolean): Promise<UserRecord> {
    const user = await this.store.setUserDisabled(userId, disabled);
    if (!user) throw userNotFound();
    if (disabled) this.onRevoked("user_disabled");
    return user;
  }

  /** "Log out everywhere" for another user, by an admin. */
  async endSessionsOf(userId: string): Promise<number> {
    await this.getUser(userId);
    return this.sessions.endAll(userId);
  }

  private async create(email: string, password: string, roles: readonly Role[]): Promise<UserRecord> {
    const user: UserRecord = {
      id: randomUUID(),
      email: normalizeEmail(email),
      roles,
      createdAt: this.clock.now(),
      disabled: false,
    };
    const passwordHash = await this.passwords.hash(password);
    if (!(await this.store.createUser(user, passwordHash))) {
      throw new AuthError("BAD_USER_INPUT", "EMAIL_TAKEN", "An account with this email already exists");
    }
    return user;
  }
}
