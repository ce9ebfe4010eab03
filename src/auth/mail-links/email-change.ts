import { AuthError, badInput, emailChangeTooSoon, invalidMailToken } from "../../errors";
import type { Accounts, Origin } from "../accounts/accounts";
import { normalizeEmail } from "../accounts/accounts";
import type { Identity } from "../tokens/authenticator";
import type { Recovery } from "./recovery";
import { describeTtl, localeOf, mailLink, mintMailToken, presentedMailToken, requireMail, type MailFlowDeps } from "./mail-tokens";

/**
 * Moving an account to a new address: asked for with the current password (throttled like a
 * login), confirmed from a link mailed to the new address, and told to the old one at once.
 * An address that has an account gets the same answer, and no link.
 */
export class EmailChange {
  constructor(
    private readonly deps: MailFlowDeps,
    private readonly accounts: Accounts,
    /** EMAIL_VERIFICATION_TTL_SECONDS: confirming the new address is verifying it. */
    private readonly ttlSeconds: number,
    /** Mails the reset link that "this was not me" calls for: the password it removed was known to whoever asked. */
    private readonly recovery: Pick<Recovery, "sendResetLink">,
  ) {}

  async request(identity: Identity, newEmail: string, currentPassword: string, origin: Origin): Promise<true> {
    const { store, outbox, clock, throttle, audit } = this.deps;
    requireMail(outbox);
    await this.accounts.verifyCurrentPassword(identity, currentPassword, origin);
    const user = await this.accounts.getUser(identity.userId);
    const address = normalizeEmail(newEmail);
    if (address === user.email) throw badInput("newEmail is this account's address already");
    // A confirmed change stays undoable from the previous address until its link expires; a new
    // request would replace that link (mailed to the current address), so none is taken until then.
    const undo = await store.readMailToken(user.id, "email_change_cancel", clock.now());
    if (undo && undo.email !== user.email) throw emailChangeTooSoon(undo.expiresAt);
    await throttle?.checkRecovery(address, origin.clientIp);
    const taken = (await store.findUserIdByEmail(address)) !== null;
    // Taken or not, the same writes replace any earlier pending change: for a taken address the
    // stored hash is of a secret that is never mailed, so nothing can confirm it.
    const change = mintMailToken(user.id);
    const cancel = mintMailToken(user.id);
    const expiresAt = clock.now() + this.ttlSeconds * 1000;
    await store.putMailToken(user.id, "email_change", { hash: change.hash, expiresAt, email: address, sessionId: identity.sessionId });
    await store.putMailToken(user.id, "email_change_cancel", { hash: cancel.hash, expiresAt, email: user.email });
    audit?.emailChangeRequested(user.id, identity.sessionId, origin.clientIp, taken);
    const ttl = describeTtl(this.ttlSeconds, origin.locale);
    if (!taken) {
      const link = mailLink(this.deps.appUrl, "confirm-email-change", change.token, this.deps.tokenInQuery);
      outbox.post({ to: address, template: "email-change-confirm", values: { email: address, link, ttl }, ...localeOf(origin) });
    }
    const cancelLink = mailLink(this.deps.appUrl, "cancel-email-change", cancel.token, this.deps.tokenInQuery);
    outbox.post({ to: user.email, template: "email-change-requested", values: { email: user.email, newEmail: address, cancelLink, ttl }, ...localeOf(origin) });
    return true;
  }

  /**
   * Needs no session: the link proves the new mailbox. The session that asked must still be live
   * and the account enabled: a change dies with what vouched for it.
   */
  async confirm(token: string, origin: Origin): Promise<true> {
    requireMail(this.deps.outbox);
    const presented = presentedMailToken(token, this.deps.clock);
    const result = presented ? await this.accounts.changeEmail(presented) : { status: "invalid" as const };
    if (result.status === "invalid") throw invalidMailToken();
    if (result.status === "taken") {
      throw new AuthError("BAD_USER_INPUT", "EMAIL_TAKEN", "Another account took this address meanwhile; the change was not made");
    }
    this.deps.audit?.emailChanged(result.user.id, origin.clientIp, result.ended);
    return true;
  }

  /**
   * "This was not me", from the notice mailed to the old address; needs no session. Cancels the
   * change, or moves the account back when it went through already, ends every session and removes
   * the password, which whoever asked knew: a reset link goes to the address at once.
   */
  async cancel(token: string, origin: Origin): Promise<true> {
    requireMail(this.deps.outbox);
    const presented = presentedMailToken(token, this.deps.clock);
    const result = presented ? await this.accounts.cancelEmailChange(presented) : { status: "invalid" as const };
    if (result.status === "invalid") throw invalidMailToken();
    this.deps.audit?.emailChangeCancelled(result.user.id, origin.clientIp, result.ended, result.reverted);
    await this.recovery.sendResetLink(result.user.id, result.user.email);
    return true;
  }
}
