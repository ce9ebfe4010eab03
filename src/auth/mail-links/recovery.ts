import { invalidMailToken } from "../../errors";
import type { Accounts, Origin } from "../accounts/accounts";
import { normalizeEmail } from "../accounts/accounts";
import { DECOY_USER_ID, describeTtl, localeOf, mailLink, mintMailToken, presentedMailToken, requireMail, type MailFlowDeps } from "./mail-tokens";

/**
 * Password reset by a link mailed to the account's address (OWASP Forgot Password, NIST SP 800-63B):
 * asking always answers true in the same time, a link works once and only until it expires or a
 * newer one is asked for, and using it ends every session. It does not sign anyone in.
 */
export class Recovery {
  constructor(
    private readonly deps: MailFlowDeps,
    private readonly accounts: Accounts,
    /** PASSWORD_RESET_TTL_SECONDS. */
    private readonly ttlSeconds: number,
  ) {}

  /**
   * Known and unknown addresses take the same path: the same throttle counts, one lookup, one
   * token write (to a decoy account when there is none); only a known address gets the mail,
   * which is sent after the response.
   */
  async requestPasswordReset(email: string, origin: Origin): Promise<true> {
    const { store, outbox, clock, throttle, audit } = this.deps;
    requireMail(outbox);
    const address = normalizeEmail(email);
    await throttle?.checkRecovery(address, origin.clientIp);
    const userId = await store.findUserIdByEmail(address);
    const token = await this.storeToken(userId ?? DECOY_USER_ID, address);
    audit?.passwordResetRequested(userId, origin.clientIp);
    if (userId !== null) this.mail(address, token, origin.locale);
    return true;
  }

  /**
   * Mails the account a reset link without a request or its throttle: for a flow that has just
   * removed the password ("this was not me" on an email change), from a link its mailbox proved.
   */
  async sendResetLink(userId: string, address: string): Promise<void> {
    this.mail(address, await this.storeToken(userId, address));
  }

  private async storeToken(userId: string, address: string): Promise<string> {
    const { token, hash } = mintMailToken(userId);
    await this.deps.store.putMailToken(userId, "password_reset", { hash, expiresAt: this.deps.clock.now() + this.ttlSeconds * 1000, email: address });
    return token;
  }

  private mail(address: string, token: string, locale?: string): void {
    const link = mailLink(this.deps.appUrl, "reset-password", token, this.deps.tokenInQuery);
    this.deps.outbox.post({ to: address, template: "password-reset", values: { email: address, link, ttl: describeTtl(this.ttlSeconds, locale) }, ...(locale ? { locale } : {}) });
  }

  /** Unknown, used, superseded and expired tokens get one answer: INVALID_MAIL_TOKEN. */
  async resetPassword(token: string, newPassword: string, origin: Origin): Promise<true> {
    requireMail(this.deps.outbox);
    const presented = presentedMailToken(token, this.deps.clock);
    const user = presented && (await this.accounts.resetPassword(presented, newPassword, origin));
    if (!user) throw invalidMailToken();
    this.deps.audit?.passwordReset(user.id, origin.clientIp);
    this.deps.outbox.post({ to: user.email, template: "password-changed", values: { email: user.email }, ...localeOf(origin) });
    return true;
  }
}
