import { randomUUID } from "node:crypto";
import type { Logger } from "pino";
import type { RevocationListener } from "@revocable-auth/verifier/internal";
import type { Clock } from "../../clock";
import { accountDisabled, AuthError, badInput, emailNotVerified, invalidCredentials, lastAdmin, tokenRevoked } from "../../errors";
import { ROLES, type AccessChange, type Credentials, type EmailChangeCancelResult, type EmailChangeResult, type MailTokenStore, type PresentedMailToken, type Role, type TransitionStore, type UserFilter, type UserRecord, type UserStore } from "../../store/store";
import { PASSWORD } from "../tokens/assurance";
import type { Audit, AuditActor } from "../audit/audit";
import type { Identity } from "../tokens/authenticator";
import { decodeCursor, encodeCursor } from "../shared/cursors";
import type { Passwords } from "./passwords";
import type { AuthResult, Sessions } from "../sessions/sessions";
import type { Throttle } from "../abuse/throttle";

export interface AccountInput {
  readonly email: string;
  readonly password: string;
  readonly device?: string | null;
}

/** The page size of `users` when none is asked for, and the most one page may hold. */
export const USERS_PAGE_DEFAULT = 50;
export const USERS_PAGE_MAX = 100;
/** The longest `emailContains`: no address is longer. */
export const EMAIL_CONTAINS_MAX = 254;

export interface UsersPage {
  readonly edges: readonly { readonly cursor: string; readonly user: UserRecord }[];
  readonly hasNextPage: boolean;
  /** Where the next page starts: the last edge's cursor, or past it when a filtered scan stopped short; null on an empty, last page. */
  readonly endCursor: string | null;
  /** Null only when not asked for. */
  readonly totalCount: number | null;
}

/**
 * The form emails are stored, compared and looked up in: NFKC folds compatibility forms
 * (fullwidth letters, ligatures) and composes accents, so "josé" typed as NFC or NFD, or in
 * fullwidth, is one account. Look-alikes from other scripts stay distinct (docs/security.md).
 */
export const normalizeEmail = (email: string) => email.normalize("NFKC").trim().toLowerCase();

/**
 * The filter as the store takes it, or BAD_USER_INPUT: emailContains 1 to EMAIL_CONTAINS_MAX
 * characters, folded as addresses are stored (NFKC, lower case), so it matches what was typed.
 */
export function checkedUserFilter(filter: UserFilter): UserFilter {
  const { emailContains, role, createdAfter } = filter;
  if (emailContains != null && (emailContains.length < 1 || emailContains.length > EMAIL_CONTAINS_MAX || /\p{Surrogate}/u.test(emailContains))) {
    throw badInput(`emailContains must be 1 to ${EMAIL_CONTAINS_MAX} characters, without unpaired surrogates`);
  }
  if (role != null && !ROLES.includes(role)) throw badInput(`role must be one of ${ROLES.join(", ")}`);
  if (createdAfter != null && !Number.isSafeInteger(createdAfter)) throw badInput("createdAfter must be an instant");
  return { ...filter, emailContains: emailContains == null ? null : emailContains.normalize("NFKC").toLowerCase() };
}

/** Throttling and the audit trail; without them (tests of the domain alone) nothing is limited. */
export interface AccountGuards {
  readonly throttle: Throttle;
  readonly audit: Audit;
}

/** Where an attempt came from, for throttling and the audit trail. */
export interface Origin {
  readonly clientIp: string;
  readonly userAgent?: string | null;
  /** The thumbprint of the key whose DPoP proof came with the request, checked: a sign-in binds its tokens to it. */
  readonly dpopKey?: string;
  /** The language the request asked for (a catalog's tag, chosen by the transport): the mails it causes are in it. */
  readonly locale?: string;
}

/** Rules that depend on the deployment. */
export interface AccountPolicy {
  /** REQUIRE_VERIFIED_EMAIL=on: login of an account whose address is not verified starts no session. */
  readonly requireVerifiedEmail?: boolean;
}

/**
 * A registration waiting for its link (REQUIRE_VERIFIED_EMAIL=on): the id the account will get, the
 * normalized address, the chosen password's hash, and who holds the address today (null: nobody).
 */
export interface PendingRegistration {
  readonly id: string;
  readonly email: string;
  readonly passwordHash: string;
  readonly ownerId: string | null;
}

/** The nil UUID: no user has it (ids are random v4 UUIDs). */
const NO_USER = "00000000-0000-0000-0000-000000000000";

const isEnabledAdmin = (user: UserRecord) => !user.disabled && user.roles.includes("ADMIN");

/** The directory, the mail tokens registration and recovery check, and the transitions accounts go through. */
export type AccountsStore = UserStore &
  Pick<MailTokenStore, "mailTokenMatches" | "takeMailToken"> &
  Pick<TransitionStore, "changeAccess" | "changePassword" | "resetPassword" | "changeEmail" | "cancelEmailChange">;

const userNotFound = () => new AuthError("NOT_FOUND", "USER_NOT_FOUND", "No such user");

/** Users: registration, login, and what admins do to them. */
export class Accounts {
  constructor(
    private readonly store: AccountsStore,
    private readonly passwords: Passwords,
    private readonly sessions: Sessions,
    private readonly clock: Clock,
    private readonly onRevoked: RevocationListener = () => undefined,
    private readonly guards: AccountGuards | null = null,
    private readonly policy: AccountPolicy = {},
  ) {}

  /**
   * Registration without a session (REQUIRE_VERIFIED_EMAIL=on), first step: the same throttle, argon2
   * work and one lookup whether or not the address is taken. Nothing is stored: the caller keeps the
   * registration with its link's token, and no account exists until the link is used, so a login
   * in between answers INVALID_CREDENTIALS for a new address as for a taken one.
   */
  async pendingRegistration(input: AccountInput, origin?: Origin): Promise<PendingRegistration> {
    if (origin && this.guards) await this.guards.throttle.checkRegister(origin.clientIp);
    const email = normalizeEmail(input.email);
    const passwordHash = await this.passwords.hash(input.password, origin?.clientIp);
    return { id: randomUUID(), email, passwordHash, ownerId: await this.store.findUserIdByEmail(email) };
  }

  /**
   * Second step, from the registration's link: consumes the registration's token and creates the
   * account with the password chosen at register, its address verified (the link proved it). Null
   * when the token does not match, or the address got an account meanwhile (another registration's
   * link was used first).
   */
  async completeRegistration(token: PresentedMailToken): Promise<UserRecord | null> {
    const registration = await this.store.takeMailToken(token, "registration");
    if (!registration?.passwordHash) return null;
    const user: UserRecord = { id: token.userId, email: registration.email, roles: ["USER"], createdAt: this.clock.now(), disabled: false, emailVerified: true };
    return (await this.store.createUser(user, registration.passwordHash)) ? user : null;
  }

  /**
   * A password reset from a mailed link: stores the new password, marks the address verified and
   * ends every session of the user, refusing every access token at once, in one store step; then
   * forgives the failed logins of this client for the address. Null when the token does not match.
   * The argon2 work is spent only for a token that matches, so made-up tokens cost one read.
   */
  async resetPassword(token: PresentedMailToken, newPassword: string, origin?: Origin): Promise<UserRecord | null> {
    if (!(await this.store.mailTokenMatches(token, "password_reset"))) return null;
    const user = await this.store.resetPassword(token, await this.passwords.hash(newPassword));
    if (!user) return null;
    this.onRevoked({ kind: "password_reset", userId: user.id, at: this.clock.now() });
    if (origin && this.guards) await this.guards.throttle.forgivePair(user.email, origin.clientIp);
    return user;
  }

  /**
   * Confirms an email change from the link mailed to the new address: the address moves (one
   * account per address) and every session but the one that asked ends.
   */
  async changeEmail(token: PresentedMailToken): Promise<EmailChangeResult> {
    const result = await this.store.changeEmail(token);
    if (result.status === "changed") this.onRevoked({ kind: "email_change", userId: result.user.id, keepSessionId: result.keptSessionId, at: this.clock.now() });
    return result;
  }

  /** "This was not me": cancels the pending change (or moves the account back) and ends every session. */
  async cancelEmailChange(token: PresentedMailToken): Promise<EmailChangeCancelResult> {
    const result = await this.store.cancelEmailChange(token);
    if (result.status === "cancelled") this.onRevoked({ kind: "email_change_cancelled", userId: result.user.id, at: this.clock.now() });
    return result;
  }

  async register(input: AccountInput, origin?: Origin): Promise<AuthResult> {
    if (origin && this.guards) await this.guards.throttle.checkRegister(origin.clientIp);
    const user = await this.create(input.email, input.password, ["USER"], origin?.clientIp);
    const result = await this.sessions.start(user, input.device ?? null, PASSWORD, undefined, undefined, origin?.dpopKey);
    this.guards?.audit.signedIn(result.session, "register", origin);
    return result;
  }

  /**
   * Unknown email and wrong password answer alike, after the same argon2 work; a throttled
   * attempt is refused before it, alike too.
   */
  async login(input: AccountInput, origin?: Origin): Promise<AuthResult> {
    const email = normalizeEmail(input.email);
    if (!origin || !this.guards) return this.checkPassword(email, input, undefined, undefined, origin?.dpopKey);
    const { throttle, audit } = this.guards;
    const result = await throttle.guardPasswordCheck(email, origin.clientIp, () =>
      this.checkPassword(email, input, (userId) => audit.loginFailed(userId, origin.clientIp, origin), origin.clientIp, origin.dpopKey),
    );
    if (result.session.pending) audit.signInAwaitingMfa(result.session, origin);
    else audit.signedIn(result.session, "password", origin);
    return result;
  }

  private async checkPassword(
    email: string,
    input: AccountInput,
    onFailure?: (userId: string | null) => void,
    clientIp?: string,
    dpopKey?: string,
  ): Promise<AuthResult> {
    const userId = await this.store.findUserIdByEmail(email);
    // An unknown address reads too (an id no user has), so both answers take the same store trips:
    // with the directory in Postgres a skipped read would be a query's time to tell them apart.
    const credentials = await this.store.getCredentials(userId ?? NO_USER);
    const valid = credentials
      ? await this.passwords.verify(credentials.passwordHash, input.password, clientIp)
      : await this.passwords.verifyAgainstNothing(input.password, clientIp);
    if (!credentials || !valid) {
      onFailure?.(credentials ? userId : null);
      throw invalidCredentials();
    }
    if (credentials.user.disabled) throw accountDisabled();
    if (this.policy.requireVerifiedEmail && credentials.user.emailVerified !== true) throw emailNotVerified();
    return this.sessions.start(credentials.user, input.device ?? null, PASSWORD, credentials.passwordHash, undefined, dpopKey);
  }

  /**
   * Creates the configured admin unless that email exists already; safe to run at every start.
   * It is also the recovery path: an existing account whose password is ADMIN_PASSWORD is enabled
   * again and given ADMIN back (its password is never changed). An account with that email but
   * another password is left alone, so registering the admin's email first grants nothing.
   */
  async ensureAdmin(email: string, password: string, logger: Logger): Promise<void> {
    let userId = await this.store.findUserIdByEmail(normalizeEmail(email));
    if (userId === null) {
      try {
        const admin = await this.create(email, password, ["USER", "ADMIN"]);
        await this.store.changeAccess(admin.id, { roles: admin.roles, disabled: false }, false);
        logger.info({ userId: admin.id }, "created the admin user from ADMIN_EMAIL");
        return;
      } catch (error) {
        // Another instance created it between our check and our write: that is the idempotent outcome.
        if (!(error instanceof AuthError && error.reason === "EMAIL_TAKEN")) throw error;
      }
      userId = await this.store.findUserIdByEmail(normalizeEmail(email));
    }
    const credentials = userId === null ? null : await this.store.getCredentials(userId);
    if (credentials) await this.restoreAdmin(credentials, password, logger);
  }

  /**
   * Changes the caller's password and ends every other session of theirs in one step; the
   * current session keeps working. A wrong current password answers like a wrong login.
   */
  async changePassword(identity: Identity, currentPassword: string, newPassword: string, origin?: Origin): Promise<void> {
    await this.verifyCurrentPassword(identity, currentPassword, origin);
    const passwordHash = await this.passwords.hash(newPassword, origin?.clientIp);
    if (!(await this.store.changePassword(identity.userId, passwordHash, identity.sessionId))) throw tokenRevoked();
    this.onRevoked({ kind: "password_change", userId: identity.userId, keepSessionId: identity.sessionId, at: this.clock.now() });
    this.guards?.audit.passwordChanged(identity, origin);
  }

  async getUser(userId: string): Promise<UserRecord> {
    const user = await this.store.getUser(userId);
    if (!user) throw userNotFound();
    return user;
  }

  /**
   * One page of users, oldest first, that meet the filter; `first` from 1 to USERS_PAGE_MAX, `after`
   * a cursor from a previous page, under any filter or none: a cursor is a place in the order.
   * Without `countTotal`, a backend that would scan to count does not (totalCount null).
   */
  async listUsers(first: number, after: string | null, filter: UserFilter | null = null, countTotal = true): Promise<UsersPage> {
    if (!Number.isInteger(first) || first < 1 || first > USERS_PAGE_MAX) {
      throw badInput(`first must be from 1 to ${USERS_PAGE_MAX}, got ${first}`);
    }
    const position = after === null ? null : decodeCursor(after);
    const page = await this.store.listUsers({ first, after: position, filter: filter && checkedUserFilter(filter), countTotal });
    const edges = page.users.map((user) => ({ cursor: encodeCursor(user), user }));
    const endCursor = page.resumeAfter ? encodeCursor(page.resumeAfter) : (edges.at(-1)?.cursor ?? null);
    return { edges, hasNextPage: page.hasNextPage, endCursor, totalCount: page.totalCount };
  }

  /** `setUserDisabled`, by an admin. Disabling yourself, or the last enabled admin, is refused with LAST_ADMIN. */
  async setDisabled(actor: AuditActor, userId: string, disabled: boolean, origin?: Origin): Promise<UserRecord> {
    if (disabled && actor.userId === userId) throw lastAdmin("You cannot disable yourself");
    const user = await this.changeAccess(userId, { disabled });
    if (disabled) this.onRevoked({ kind: "user_disabled", userId, at: this.clock.now() });
    this.guards?.audit.adminAction(actor, "setUserDisabled", userId, { disabled }, origin);
    return user;
  }

  /**
   * Replaces a user's roles; they count from the user's next request on every instance, because
   * roles are read with the per-request revocation check. Taking ADMIN from the last enabled
   * admin is refused with LAST_ADMIN.
   */
  async setRoles(actor: AuditActor, userId: string, roles: readonly Role[], origin?: Origin): Promise<UserRecord> {
    if (roles.length === 0) throw badInput("roles must name at least one role");
    const user = await this.changeAccess(userId, { roles: ROLES.filter((role) => roles.includes(role)) });
    try {
      // Before the roles event: the unbound sessions' sockets close as ended, the others to re-authorise.
      // Should the store fail on the way, the roles have changed anyway: the event still goes out, the
      // Authenticator refuses what was not ended, and a retry ends the rest.
      await this.sessions.endUnbound(user);
    } finally {
      this.onRevoked({ kind: "roles_changed", userId, at: this.clock.now() });
    }
    this.guards?.audit.adminAction(actor, "setUserRoles", userId, { roles: user.roles }, origin);
    return user;
  }

  /** "Log out everywhere" for another user. */
  async endSessionsOf(userId: string): Promise<number> {
    await this.getUser(userId);
    return this.sessions.endAll(userId);
  }

  /** `revokeUserSessions`: endSessionsOf, by an admin, in the audit trail. */
  async revokeSessionsOf(actor: AuditActor, userId: string, origin?: Origin): Promise<number> {
    const ended = await this.endSessionsOf(userId);
    this.guards?.audit.adminAction(actor, "revokeUserSessions", userId, { ended }, origin);
    return ended;
  }

  /**
   * Reauthentication with the password: the same throttled, audited check as changePassword, then
   * the caller's session counts as recently authenticated (Sessions.requireRecentAuthentication).
   */
  async reauthenticate(identity: Identity, password: string, origin: Origin): Promise<void> {
    await this.verifyCurrentPassword(identity, password, origin);
    await this.sessions.markAuthenticated(identity);
    this.guards?.audit.reauthenticated(identity, "password", origin);
  }

  /**
   * The one place changePassword, enrollTotp, reauthenticate and requestEmailChange check a password, throttled
   * and audited like a login: a stolen access token must not become a password oracle. The same
   * argon2 work is spent when the user record is gone. A wrong password is LOGIN_FAILED naming the
   * session it was typed in: in the user's history, where a hijacked session probing for the
   * password shows, not among the attempts anyone can cause.
   */
  async verifyCurrentPassword({ userId, sessionId }: AuditActor, password: string, origin?: Origin): Promise<void> {
    const credentials = await this.store.getCredentials(userId);
    const check = async () => {
      const valid = credentials
        ? await this.passwords.verify(credentials.passwordHash, password, origin?.clientIp)
        : await this.passwords.verifyAgainstNothing(password, origin?.clientIp);
      if (valid) return;
      if (origin) this.guards?.audit.loginFailed(userId, origin.clientIp, origin, sessionId);
      throw invalidCredentials();
    };
    if (!credentials || !origin || !this.guards) return check();
    return this.guards.throttle.guardPasswordCheck(credentials.user.email, origin.clientIp, check);
  }

  /** The store decides the LAST_ADMIN guard together with the change, across every instance. */
  private async changeAccess(userId: string, change: AccessChange): Promise<UserRecord> {
    const result = await this.store.changeAccess(userId, change, true);
    if (result.status === "last_admin") throw lastAdmin("This is the last enabled admin: make another user ADMIN first");
    if (result.status === "user_missing") throw userNotFound();
    return result.user;
  }

  /**
   * Only with the right password: the record may lag the directory's decision (a change that
   * failed half-way), so "the record says enabled admin" alone grants nothing. Also how admins from
   * before the directory join its index.
   */
  private async restoreAdmin(credentials: Credentials, password: string, logger: Logger): Promise<void> {
    const user = credentials.user;
    if (!(await this.passwords.verify(credentials.passwordHash, password))) {
      if (!isEnabledAdmin(user)) logger.warn({ userId: user.id }, "ADMIN_EMAIL belongs to an account whose password is not ADMIN_PASSWORD; left unchanged");
      return;
    }
    const roles = ROLES.filter((r) => r === "ADMIN" || user.roles.includes(r));
    await this.store.changeAccess(user.id, { roles, disabled: false }, false);
    if (!isEnabledAdmin(user)) logger.warn({ userId: user.id }, "restored the ADMIN_EMAIL account: enabled, with the ADMIN role (recovery path)");
  }

  private async create(email: string, password: string, roles: readonly Role[], clientIp?: string): Promise<UserRecord> {
    const user: UserRecord = {
      id: randomUUID(),
      email: normalizeEmail(email),
      roles,
      createdAt: this.clock.now(),
      disabled: false,
    };
    const passwordHash = await this.passwords.hash(password, clientIp);
    if (!(await this.store.createUser(user, passwordHash))) {
      throw new AuthError("BAD_USER_INPUT", "EMAIL_TAKEN", "An account with this email already exists");
    }
    return user;
  }
}
