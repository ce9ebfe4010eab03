import type { Logger } from "pino";
import type { Metrics } from "../metrics";

export type ThrottleReason = "LOGIN_THROTTLED" | "REGISTER_THROTTLED" | "RECOVERY_THROTTLED";

/**
 * The security audit trail: one warn line and one metric per event. Lines name users by id and
 * clients by IP; never an email, a password or a token.
 */
export class Audit {
  constructor(
    private readonly logger: Logger,
    private readonly metrics: Metrics,
  ) {}

  /** `userId` when the email belongs to an account, else null. */
  loginFailed(userId: string | null, clientIp: string): void {
    this.metrics.loginFailures.inc();
    this.logger.warn({ audit: "login_failed", userId, clientIp }, "login failed");
  }

  /** `scope`: which counter refused — one (account, IP) pair, or the IP across accounts. */
  throttled(reason: ThrottleReason, scope: "pair" | "ip" | "address", clientIp: string): void {
    this.metrics.throttled.inc({ reason });
    this.logger.warn({ audit: "throttled", reason, scope, clientIp }, "attempt refused by throttling");
  }

  refreshReused(userId: string, sessionId: string): void {
    this.metrics.refreshReuse.inc();
    this.logger.warn({ audit: "refresh_reuse", userId, sessionId }, "refresh token reused: session ended");
  }

  /** Who (`actorId`) did what (`action`) to whom (`targetId`), with the action's plain arguments. */
  adminAction(actorId: string, action: string, targetId: string, details: Record<string, unknown> = {}): void {
    this.metrics.adminActions.inc({ action });
    this.logger.warn({ audit: "admin_action", actorId, action, targetId, ...details }, "admin action");
  }

  /** `userId` null: the address has no account (nothing was mailed). */
  passwordResetRequested(userId: string | null, clientIp: string): void {
    this.emailEvent("password_reset_requested", { userId, clientIp }, "password reset requested");
  }

  passwordReset(userId: string, clientIp: string): void {
    this.emailEvent("password_reset", { userId, clientIp }, "password reset: every session ended");
  }

  verificationSent(userId: string, clientIp: string): void {
    this.emailEvent("verification_sent", { userId, clientIp }, "verification mail queued");
  }

  emailVerified(userId: string, clientIp: string): void {
    this.emailEvent("email_verified", { userId, clientIp }, "email address verified");
  }

  /** `taken`: the new address belongs to another account, so no confirmation link was mailed. */
  emailChangeRequested(userId: string, sessionId: string, clientIp: string, taken: boolean): void {
    this.emailEvent("email_change_requested", { userId, sessionId, clientIp, taken }, "email change requested");
  }

  emailChanged(userId: string, clientIp: string, endedSessions: number): void {
    this.emailEvent("email_changed", { userId, clientIp, endedSessions }, "email address changed: other sessions ended");
  }

  /** REQUIRE_VERIFIED_EMAIL=on: register with an address that has an account; its owner is told. */
  registerExistingAddress(userId: string, clientIp: string): void {
    this.emailEvent("register_existing_address", { userId, clientIp }, "register with an existing address: owner notified");
  }

  private emailEvent(event: string, fields: Record<string, unknown>, message: string): void {
    this.metrics.accountEmailEvents.inc({ event });
    this.logger.warn({ audit: event, ...fields }, message);
  }
}
