import type { Logger } from "pino";
import type { Metrics } from "../metrics";

export type ThrottleReason = "LOGIN_THROTTLED" | "REGISTER_THROTTLED" | "PASSKEY_THROTTLED";

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

  /** `scope`: which counter refused — one (account, IP) pair (for passkeys: one credential), or the IP across accounts. */
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

  /**
   * A passkey sign-in refused: `cause` says why (unknown credential, bad signature, wrong origin,
   * used or expired challenge, no user verification...). `userId` when the credential is known.
   */
  passkeyLoginFailed(userId: string | null, cause: string, clientIp: string): void {
    this.metrics.passkeyFailures.inc({ cause });
    this.logger.warn({ audit: "passkey_login_failed", userId, cause, clientIp }, "passkey sign-in refused");
  }

  /** The signature counter went backwards: two authenticators may hold one private key (a clone). */
  passkeyCounterRegressed(userId: string, passkeyId: string, stored: number, presented: number, clientIp: string): void {
    this.metrics.passkeyFailures.inc({ cause: "counter_regressed" });
    this.logger.warn(
      { audit: "passkey_counter_regressed", userId, passkeyId, stored, presented, clientIp },
      "passkey signature counter went backwards: possible cloned authenticator; sign-in refused",
    );
  }

  passkeyRegistered(userId: string, sessionId: string, passkeyId: string, clientIp: string): void {
    this.metrics.passkeyChanges.inc({ change: "registered" });
    this.logger.warn({ audit: "passkey_registered", userId, sessionId, passkeyId, clientIp }, "passkey registered");
  }

  /** `ended`: the live sessions the passkey had started, ended with it. */
  passkeyRemoved(userId: string, sessionId: string, passkeyId: string, ended: number, clientIp: string): void {
    this.metrics.passkeyChanges.inc({ change: "removed" });
    this.logger.warn({ audit: "passkey_removed", userId, sessionId, passkeyId, ended, clientIp }, "passkey removed");
  }
}
