import type { Logger } from "pino";
import type { Metrics } from "../metrics";

export type ThrottleReason = "LOGIN_THROTTLED" | "REGISTER_THROTTLED";

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

  /**
   * `scope`: what refused — one (account, IP) pair's count, the IP's count across accounts, or the
   * password-hashing queue (too many of the IP's password checks waiting).
   */
  throttled(reason: ThrottleReason, scope: "pair" | "ip" | "hash_queue", clientIp: string): void {
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
}
