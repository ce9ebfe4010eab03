import type { Logger } from "pino";
import type { Metrics } from "../metrics";
import type { AuditEntry, SessionRecord } from "../store/store";
import { clientKey } from "./throttle";

/** A throttled refusal reaches the trail at most this often per reason, scope and client. */
const THROTTLED_TRAIL_EVERY_MS = 60_000;
/** Clients remembered for that; past this, the one written longest ago is forgotten (and may be written again). */
const THROTTLED_TRAIL_KEYS = 10_000;

export type ThrottleReason = "LOGIN_THROTTLED" | "REGISTER_THROTTLED";

/** Where a request came from, as the transport saw it (the request context satisfies it). */
export interface AuditOrigin {
  readonly clientIp: string;
  readonly userAgent?: string | null;
}

/** The session a signed-in caller acts from (an Identity satisfies it). */
export interface AuditActor {
  readonly userId: string;
  readonly sessionId: string;
}

/**
 * One event as an Audit method describes it. `type` is upper snake case (SIGNED_IN); the log line
 * names it in snake case. Absent fields are null in the trail.
 */
export interface AuditEvent {
  readonly type: string;
  /** Whom it is about: the event lands in this user's stream too. */
  readonly userId: string | null;
  /** Who did it, when not the user themself or the system (an admin). */
  readonly actorId?: string | null;
  readonly sessionId?: string | null;
  readonly origin?: AuditOrigin | null;
  readonly device?: string | null;
  /** Plain values only: ids, flags, counts, role names. Never a secret. */
  readonly details?: Readonly<Record<string, unknown>>;
}

/** The durable trail (auth/audit-trail.ts); a rejected append is logged and counted, never thrown. */
export interface AuditSink {
  append(entry: AuditEntry): Promise<void>;
}

/** Longer user agents are cut here, so one request cannot make an event big. */
export const MAX_USER_AGENT_LENGTH = 256;

const snakeCase = (type: string) => type.toLowerCase();

/** What an admin action is called in the trail; an action not listed is ADMIN_ACTION with its name in details. */
function adminEventType(action: string, details: Readonly<Record<string, unknown>>): string {
  switch (action) {
    case "setUserDisabled":
      return details.disabled === false ? "USER_ENABLED" : "USER_DISABLED";
    case "setUserRoles":
      return "USER_ROLES_CHANGED";
    case "revokeUserSessions":
      return "USER_SESSIONS_REVOKED";
    default:
      return "ADMIN_ACTION";
  }
}

/**
 * The security audit trail. Every method describes its event and hands it to `record`, which
 * writes one warn line, counts it, and appends it to the durable trail (Redis Streams) without
 * waiting: the operation it records never waits for, or fails with, the trail. Lines and entries
 * name users by id and clients by IP; never an email, a password or a token.
 *
 * A new event is one more method here that calls `this.record({ type: "UPPER_SNAKE", userId, ... }, "message")`.
 */
export class Audit {
  constructor(
    private readonly logger: Logger,
    private readonly metrics: Metrics,
    private readonly trail: AuditSink | null = null,
  ) {}

  /** When each throttled (reason, scope, client) last reached the trail; bounded, oldest dropped first. */
  private readonly throttledWritten = new Map<string, number>();

  /** A session began: by a login with a password, or by registering. */
  signedIn(session: Pick<SessionRecord, "userId" | "id" | "device">, via: "password" | "register", origin?: AuditOrigin): void {
    this.record({ type: "SIGNED_IN", userId: session.userId, sessionId: session.id, device: session.device, origin, details: { via } }, "signed in");
  }

  /** `scope`: the caller's own session, every other one, or all of them; `ended`: how many were live. */
  signedOut(actor: AuditActor, scope: "session" | "others" | "all", ended: number, origin?: AuditOrigin): void {
    this.record({ type: "SIGNED_OUT", userId: actor.userId, sessionId: actor.sessionId, origin, details: { scope, ended } }, "signed out");
  }

  /** The caller ended one of their sessions (`revokedSessionId`) from the session they act from. */
  sessionRevoked(actor: AuditActor, revokedSessionId: string, origin?: AuditOrigin): void {
    this.record(
      { type: "SESSION_REVOKED", userId: actor.userId, sessionId: actor.sessionId, origin, details: { revokedSessionId } },
      "session revoked",
    );
  }

  passwordChanged(actor: AuditActor, origin?: AuditOrigin): void {
    this.record({ type: "PASSWORD_CHANGED", userId: actor.userId, sessionId: actor.sessionId, origin }, "password changed");
  }

  /** `userId` when the email belongs to an account, else null. */
  loginFailed(userId: string | null, clientIp: string, origin?: AuditOrigin): void {
    this.metrics.loginFailures.inc();
    this.record({ type: "LOGIN_FAILED", userId, origin: origin ?? { clientIp } }, "login failed");
  }

  /**
   * `scope`: which counter refused — one (account, IP) pair, or the IP across accounts. Logged and
   * counted every time; written to the trail once per reason, scope and client (an IPv6 /64) per
   * THROTTLED_TRAIL_EVERY_MS: a refusal costs its sender nothing, and a flood of them would
   * otherwise fill the global stream to AUDIT_MAX_EVENTS and push every real event out of it.
   */
  throttled(reason: ThrottleReason, scope: "pair" | "ip", clientIp: string, origin?: AuditOrigin): void {
    this.metrics.throttled.inc({ reason });
    const key = `${reason} ${scope} ${clientKey(clientIp)}`;
    const now = Date.now();
    const last = this.throttledWritten.get(key);
    const toTrail = last === undefined || now - last >= THROTTLED_TRAIL_EVERY_MS;
    if (toTrail) {
      this.throttledWritten.delete(key);
      this.throttledWritten.set(key, now);
      // Insertion order: the first key is the one written longest ago.
      if (this.throttledWritten.size > THROTTLED_TRAIL_KEYS) this.throttledWritten.delete(this.throttledWritten.keys().next().value!);
    }
    this.record({ type: reason, userId: null, origin: origin ?? { clientIp }, details: { reason, scope } }, "attempt refused by throttling", "throttled", {}, toTrail);
  }

  refreshReused(userId: string, sessionId: string, origin?: AuditOrigin): void {
    this.metrics.refreshReuse.inc();
    this.record({ type: "REFRESH_REUSE_DETECTED", userId, sessionId, origin }, "refresh token reused: session ended", "refresh_reuse");
  }

  /**
   * Who (`actor`: an id, or the admin's identity to name the session too) did what (`action`) to
   * whom (`targetId`), with the action's plain arguments.
   */
  adminAction(actor: string | AuditActor, action: string, targetId: string, details: Record<string, unknown> = {}, origin?: AuditOrigin): void {
    this.metrics.adminActions.inc({ action });
    const [actorId, sessionId] = typeof actor === "string" ? [actor, null] : [actor.userId, actor.sessionId];
    this.record(
      { type: adminEventType(action, details), userId: targetId, actorId, sessionId, origin, details: { action, ...details } },
      "admin action",
      "admin_action",
      { targetId },
    );
  }

  /**
   * The one way out: one warn line, one count, one trail entry. `logAs` keeps the line names that
   * predate the trail; `line` adds fields to the log line only.
   */
  private record(event: AuditEvent, message: string, logAs = snakeCase(event.type), line: Record<string, unknown> = {}, toTrail = true): void {
    const entry: AuditEntry = {
      type: event.type,
      actorId: event.actorId ?? null,
      userId: event.userId,
      sessionId: event.sessionId ?? null,
      clientIp: event.origin?.clientIp ?? null,
      userAgent: event.origin?.userAgent?.slice(0, MAX_USER_AGENT_LENGTH) || null,
      device: event.device ?? null,
      details: event.details ?? {},
    };
    this.metrics.auditEvents.inc({ type: entry.type });
    const { details, userId, ...rest } = entry;
    const set = Object.fromEntries(Object.entries(rest).filter(([name, value]) => value !== null && name !== "type"));
    this.logger.warn({ ...details, ...line, audit: logAs, userId, ...set }, message);
    if (!toTrail) return;
    this.trail?.append(entry).catch((error: unknown) => {
      this.metrics.auditWriteFailures.inc();
      const { name, message: reason } = error instanceof Error ? error : { name: "Error", message: String(error) };
      this.logger.error({ audit: logAs, userId, err: { name, message: reason } }, "audit event not written to the trail");
    });
  }
}
