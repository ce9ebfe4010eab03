import { randomUUID } from "node:crypto";
import type { Logger } from "pino";
import { accountDisabled, AuthError, invalidCredentials } from "../errors";
import type { Role, Store, UserRecord } from "../store/store";
import type { Clock } from "../clock";
import type { Audit } from "./audit";
import type { Passwords } from "./passwords";
import type { RevocationListener } from "./revocation";
import type { AuthResult, Sessions } from "./sessions";
import type { Throttle } from "./throttle";

export interface AccountInput {
  readonly email: string;
  readonly password: string;
  readonly device?: string | null;
}

/**
 * The form emails are stored, compared and looked up in: NFKC folds compatibility forms
 * (fullwidth letters, ligatures) and composes accents, so "josé" typed as NFC or NFD, or in
 * fullwidth, is one account. Look-alikes from other scripts stay distinct (docs/security.md).
 */
export const normalizeEmail = (email: string) => email.normalize("NFKC").trim().toLowerCase();

/** Throttling and the audit trail; without them (tests of the domain alone) nothing is limited. */
export interface AccountGuards {
  readonly throttle: Throttle;
  readonly audit: Audit;
}

/** Where an attempt came from, for throttling and the audit trail. */
export interface Origin {
  readonly clientIp: string;
}

const userNotFound = () => new AuthError("NOT_FOUND", "USER_NOT_FOUND", "No such user");

/** Users: registration, login, and what admins do to them. */
export class Accounts {
  constructor(
    private readonly store: Store,
    private readonly passwords: Passwords,
    private readonly sessions: Sessions,
    private readonly clock: Clock,
    private readonly onRevoked: RevocationListener = () => undefined,
    private readonly guards: AccountGuards | null = null,
  ) {}

  async register(input: AccountInput, origin?: Origin): Promise<AuthResult> {
    if (origin && this.guards) await this.guards.throttle.checkRegister(origin.clientIp);
    const user = await this.create(input.email, input.password, ["USER"]);
    return this.sessions.start(user, input.device ?? null);
  }

  /**
   * Unknown email and wrong password answer alike, after the same argon2 work; a throttled
   * attempt is refused before it, alike too.
   */
  async login(input: AccountInput, origin?: Origin): Promise<AuthResult> {
    const email = normalizeEmail(input.email);
    if (!origin || !this.guards) return this.checkPassword(email, input);
    const { throttle, audit } = this.guards;
    return throttle.guardPasswordCheck(email, origin.clientIp, () =>
      this.checkPassword(email, input, (userId) => audit.loginFailed(userId, origin.clientIp)),
    );
  }

  private async checkPassword(email: string, input: AccountInput, onFailure?: (userId: string | null) => void): Promise<AuthResult> {
    const userId = await this.store.findUserIdByEmail(email);
    const credentials = userId === null ? null : await this.store.getCredentials(userId);
    const valid = credentials
      ? await this.passwords.verify(credentials.passwordHash, input.password)
      : await this.passwords.verifyAgainstNothing(input.password);
    if (!credentials || !valid) {
      onFailure?.(credentials ? userId : null);
      throw invalidCredentials();
    }
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

  listUsers(): Promise<UserRecord[]> {
    return this.store.listUsers();
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
