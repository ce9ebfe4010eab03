import { emailNotVerified, invalidMailToken } from "../../errors";
import type { UserRecord } from "../../store/store";
import type { AccountInput, Accounts, Origin } from "../accounts/accounts";
import type { Identity } from "../tokens/authenticator";
import { describeTtl, localeOf, mailLink, mintMailToken, presentedMailToken, requireMail, type MailFlowDeps } from "./mail-tokens";
import type { AuthResult } from "../sessions/sessions";

/**
 * Proving an address: register mails a link, a signed-in user can ask for it again, and the link
 * marks the address verified once. A link is bound to the account and to the address it was
 * mailed to: after an email change an older link verifies nothing.
 */
export class EmailVerification {
  constructor(
    private readonly deps: MailFlowDeps,
    private readonly accounts: Accounts,
    private readonly options: {
      /** EMAIL_VERIFICATION_TTL_SECONDS. */
      readonly ttlSeconds: number;
      /** REQUIRE_VERIFIED_EMAIL=on. */
      readonly required: boolean;
    },
  ) {}

  /**
   * Registers and mails a verification link. With REQUIRE_VERIFIED_EMAIL=on no session starts and no
   * account exists yet: the registration waits, with its password's hash, under its link's token,
   * and the account is created when the link is used. An address that has an account takes the same
   * path (the argon2 hash, one lookup, one token write) and gets the same answer, EMAIL_NOT_VERIFIED,
   * while its owner is mailed a notice instead of a link; a login with the password given answers
   * INVALID_CREDENTIALS in both cases, since neither has an account with that password.
   */
  async register(input: AccountInput, origin: Origin): Promise<AuthResult> {
    if (!this.deps.outbox.enabled) return this.accounts.register(input, origin);
    if (!this.options.required) {
      const result = await this.accounts.register(input, origin);
      await this.send(result.user, origin);
      return result;
    }
    const pending = await this.accounts.pendingRegistration(input, origin);
    const { token, hash } = mintMailToken(pending.id);
    // Written for a taken address too, so both cost the same; nobody ever gets that one's token.
    await this.deps.store.putMailToken(pending.id, "registration", { hash, expiresAt: this.expiresAt(), email: pending.email, passwordHash: pending.passwordHash });
    const email = pending.email;
    if (pending.ownerId === null) {
      this.deps.audit?.verificationSent(pending.id, origin.clientIp);
      const link = mailLink(this.deps.appUrl, "verify-email", token, this.deps.tokenInQuery);
      this.deps.outbox.post({ to: email, template: "verify-email", values: { email, link, ttl: describeTtl(this.options.ttlSeconds, origin.locale) }, ...localeOf(origin) });
    } else {
      this.deps.audit?.registerExistingAddress(pending.ownerId, origin.clientIp);
      this.deps.outbox.post({ to: email, template: "account-exists", values: { email }, ...localeOf(origin) });
    }
    throw emailNotVerified();
  }

  /** Mails a new link (the older one stops working); an address verified already gets nothing. */
  async resend(identity: Identity, origin: Origin): Promise<true> {
    requireMail(this.deps.outbox);
    const user = identity.user ?? (await this.accounts.getUser(identity.userId));
    if (user.emailVerified === true) return true;
    await this.deps.throttle?.checkRecovery(user.email, origin.clientIp);
    await this.send(user, origin);
    return true;
  }

  async verify(token: string, origin: Origin): Promise<true> {
    requireMail(this.deps.outbox);
    const presented = presentedMailToken(token, this.deps.clock);
    // An account's link, or a waiting registration's (whatever REQUIRE_VERIFIED_EMAIL says now).
    const user = presented && ((await this.deps.store.verifyEmail(presented)) ?? (await this.accounts.completeRegistration(presented)));
    if (!user) throw invalidMailToken();
    this.deps.audit?.emailVerified(user.id, origin.clientIp);
    return true;
  }

  private async send(user: UserRecord, origin: Origin): Promise<void> {
    const { token, hash } = mintMailToken(user.id);
    await this.deps.store.putMailToken(user.id, "email_verification", { hash, expiresAt: this.expiresAt(), email: user.email });
    this.deps.audit?.verificationSent(user.id, origin.clientIp);
    const link = mailLink(this.deps.appUrl, "verify-email", token, this.deps.tokenInQuery);
    this.deps.outbox.post({ to: user.email, template: "verify-email", values: { email: user.email, link, ttl: describeTtl(this.options.ttlSeconds, origin.locale) }, ...localeOf(origin) });
  }

  private expiresAt(): number {
    return this.deps.clock.now() + this.options.ttlSeconds * 1000;
  }
}
