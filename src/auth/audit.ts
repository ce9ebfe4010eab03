import type { Logger } from "pino";
import type { Metrics } from "../metrics";

export type ThrottleReason = "LOGIN_THROTTLED" | "REGISTER_THROTTLED";

export type MfaMethod = "totp" | "recovery_code";

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
  throttled(reason: ThrottleReason, scope: "pair" | "ip", clientIp: string): void {
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

  /** A second factor was enrolled and confirmed: `endedSessions` of the user's others were ended. */
  mfaEnrolled(userId: string, sessionId: string, clientIp: string, endedSessions: number): void {
    this.mfa("enrolled", { userId, sessionId, clientIp, endedSessions }, "second factor enrolled");
  }

  /** A session was raised to aal2, by a TOTP code or a recovery code. */
  mfaVerified(userId: string, sessionId: string, clientIp: string, method: MfaMethod): void {
    this.mfa("verified", { userId, sessionId, clientIp, method }, "second factor verified");
  }

  /** A wrong, replayed or unreadable code; `failures`: consecutive ones on the factor, when counted. */
  mfaFailed(userId: string, sessionId: string, clientIp: string, failures: number | null): void {
    this.mfa("failed", { userId, sessionId, clientIp, failures }, "second factor code refused");
  }

  mfaThrottled(userId: string, sessionId: string, scope: "user" | "session", clientIp: string): void {
    this.metrics.throttled.inc({ reason: "MFA_THROTTLED" });
    this.mfa("throttled", { userId, sessionId, scope, clientIp }, "second factor attempt refused by throttling");
  }

  /** The factor reached MFA_LOCK_AFTER_FAILURES consecutive failures: only a recovery code or an admin reset helps. */
  mfaLocked(userId: string, sessionId: string, clientIp: string): void {
    this.mfa("locked", { userId, sessionId, clientIp }, "second factor locked after too many failures");
  }

  recoveryCodeUsed(userId: string, sessionId: string, clientIp: string, remaining: number): void {
    this.mfa("recovery_code_used", { userId, sessionId, clientIp, remaining }, "recovery code used");
  }

  recoveryCodesRegenerated(userId: string, sessionId: string, clientIp: string): void {
    this.mfa("recovery_codes_regenerated", { userId, sessionId, clientIp }, "recovery codes replaced");
  }

  mfaDisabled(userId: string, sessionId: string, clientIp: string, endedSessions: number): void {
    this.mfa("disabled", { userId, sessionId, clientIp, endedSessions }, "second factor disabled by its user");
  }

  /** An admin removed a user's second factor; `endedSessions` of theirs were ended. */
  mfaReset(actorId: string, userId: string, endedSessions: number): void {
    this.mfa("reset", { actorId, userId, endedSessions }, "second factor reset by an admin");
  }

  /** One line `{ audit: "mfa_<event>", ... }` and one count in auth_mfa_events_total{event}. */
  private mfa(event: string, fields: Record<string, unknown>, message: string): void {
    this.metrics.mfaEvents.inc({ event });
    this.logger.warn({ audit: `mfa_${event}`, ...fields }, message);
  }
}
