import { randomBytes } from "node:crypto";
import type { Logger } from "pino";
import type { Metrics } from "../../metrics";
import type { AuditEntry, SessionRecord, UserAuditStream } from "../../store/store";
import { clientReported, MAX_DEVICE_LENGTH } from "../shared/client-text";
import { clientKey } from "../shared/client-key";

/** A throttled refusal reaches the trail at most this often per reason, scope and client. */
const THROTTLED_TRAIL_EVERY_MS = 60_000;
/** Clients remembered for that; past this, the one written longest ago is forgotten (and may be written again). */
const THROTTLED_TRAIL_KEYS = 10_000;

export type ThrottleReason = "LOGIN_THROTTLED" | "REGISTER_THROTTLED" | "PASSKEY_THROTTLED" | "RECOVERY_THROTTLED";

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
/** How a session began: `oidc:<provider>` for a provider sign-in (OIDC_PROVIDERS). */
export type SignInMethod = "password" | "register" | `oidc:${string}`;

/** How a session waiting for its second factor was signed in: its provider's, else the password. */
export function firstFactorOf(session: Pick<SessionRecord, "federation">): SignInMethod {
  return session.federation === undefined ? "password" : `oidc:${session.federation.provider}`;
}

export type MfaMethod = "totp" | "recovery_code";

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

/** The durable trail (audit-trail.ts); a rejected append is logged and counted, never thrown. */
export interface AuditSink {
  append(entry: AuditEntry, userStream: UserAuditStream): Promise<void>;
}

/**
 * Failed or refused steps of a caller who has not proven to be the user: anyone can cause the
 * first four by naming the user, and the rest by holding the password (a sign-in that waits for
 * its second factor, a wrong or throttled code). Kept in the
 * user's "attempts" stream, so however many there are, they cannot push the user's history (a
 * sign-in, a change, an admin's action) out of securityEvents (store.ts, UserAuditStream).
 */
const ATTEMPTS = new Set([
  "LOGIN_FAILED",
  "PASSKEY_LOGIN_FAILED",
  "PASSWORD_RESET_REQUESTED",
  "REGISTER_EXISTING_ADDRESS",
  "SIGN_IN_AWAITING_MFA",
  "MFA_FAILED",
  "MFA_THROTTLED",
]);

/** The user's stream for `entry`; a wrong password typed in a signed-in session is that session's history. */
function userStreamOf(entry: AuditEntry): UserAuditStream {
  if (entry.type === "LOGIN_FAILED" && entry.sessionId !== null) return "history";
  return ATTEMPTS.has(entry.type) ? "attempts" : "history";
}

/** Longer user agents are cut here (client-text.ts), so one request cannot make an event big. */
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
    case "createOAuthClient":
    case "updateOAuthClient":
    case "rotateOAuthClientSecret":
    case "deleteOAuthClient":
      return "OAUTH_CLIENT_CHANGED";
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

  /**
   * A session began: by a login with a password, or by registering. `secondFactor`: the code that
   * completed a sign-in which waited for it (verifyMfa); the event is written then, not at the password.
   */
  signedIn(session: Pick<SessionRecord, "userId" | "id" | "device">, via: SignInMethod, origin?: AuditOrigin, secondFactor?: MfaMethod): void {
    const details = secondFactor === undefined ? { via } : { via, secondFactor };
    this.record({ type: "SIGNED_IN", userId: session.userId, sessionId: session.id, device: session.device, origin, details }, "signed in");
  }

  /**
   * The password was right for a user with a second factor on: the session waits for it (pending).
   * Anyone holding the password can cause it, so it goes with the attempts; SIGNED_IN follows at verifyMfa.
   */
  signInAwaitingMfa(session: Pick<SessionRecord, "userId" | "id" | "device">, origin?: AuditOrigin, via: SignInMethod = "password"): void {
    this.metrics.mfaEvents.inc({ event: "pending" });
    this.record(
      { type: "SIGN_IN_AWAITING_MFA", userId: session.userId, sessionId: session.id, device: session.device, origin, details: { via } },
      "password accepted: the session waits for its second factor",
    );
  }

  /** `scope`: the caller's own session, every other one, or all of them; `ended`: how many were live. */
  signedOut(actor: AuditActor, scope: "session" | "others" | "all", ended: number, origin?: AuditOrigin): void {
    this.record({ type: "SIGNED_OUT", userId: actor.userId, sessionId: actor.sessionId, origin, details: { scope, ended } }, "signed out");
  }

  /** A provider identity was linked to the user: by their first sign-in with it, or by linkIdentityUrl (`sessionId` then). */
  identityLinked(userId: string, provider: string, identityId: string, sessionId: string | null, origin?: AuditOrigin): void {
    this.record({ type: "IDENTITY_LINKED", userId, sessionId, origin, details: { provider, identityId } }, "provider identity linked");
  }

  identityUnlinked(actor: AuditActor, provider: string, identityId: string, origin?: AuditOrigin): void {
    this.record({ type: "IDENTITY_UNLINKED", userId: actor.userId, sessionId: actor.sessionId, origin, details: { provider, identityId } }, "provider identity unlinked");
  }

  /** The user allowed an OAuth client (`clientId`) these scopes, from the session `sessionId` (the consent page). */
  oauthConsentGiven(userId: string, sessionId: string, clientId: string, scope: string, origin?: AuditOrigin): void {
    this.record({ type: "OAUTH_CONSENT_GIVEN", userId, sessionId, origin, details: { clientId, scope } }, "OAuth consent given");
  }

  /** oidc-provider issued tokens to `clientId` (`grantType`); userId null for client credentials. */
  oauthTokensIssued(userId: string | null, clientId: string, grantType: string): void {
    this.record({ type: "OAUTH_TOKENS_ISSUED", userId, details: { clientId, grantType } }, "OAuth tokens issued");
  }

  /**
   * A back-channel logout to an OAuth client, for the user's ended session: delivered, an attempt
   * that failed (it is retried), or given up (too many attempts, too old, the client gone).
   */
  backchannelLogout(userId: string, sessionId: string, clientId: string, outcome: "delivered" | "failed" | "given_up", details: Record<string, unknown>): void {
    const type = `OAUTH_BACKCHANNEL_LOGOUT_${outcome.toUpperCase()}`;
    this.record({ type, userId, sessionId, details: { clientId, ...details } }, `OAuth back-channel logout ${outcome.replace("_", " ")}`);
  }

  /** An OAuth grant ended (`reason`: the user revoked the app, the client was deleted, refresh token reuse). */
  oauthGrantEnded(userId: string, clientId: string, reason: "revoked_by_user" | "client_deleted" | "refresh_reuse" | "code_replay", origin?: AuditOrigin): void {
    this.record({ type: "OAUTH_GRANT_ENDED", userId, origin, details: { clientId, reason } }, "OAuth grant ended");
  }

  /** The caller ended one of their sessions (`revokedSessionId`) from the session they act from. */
  sessionRevoked(actor: AuditActor, revokedSessionId: string, origin?: AuditOrigin): void {
    this.record(
      { type: "SESSION_REVOKED", userId: actor.userId, sessionId: actor.sessionId, origin, details: { revokedSessionId } },
      "session revoked",
    );
  }

  /** The caller proved a credential again in their session (`via`: password, totp, recovery_code), so it may add one. */
  reauthenticated(actor: AuditActor, via: "password" | MfaMethod, origin?: AuditOrigin): void {
    this.record({ type: "REAUTHENTICATED", userId: actor.userId, sessionId: actor.sessionId, origin, details: { via } }, "reauthenticated");
  }

  passwordChanged(actor: AuditActor, origin?: AuditOrigin): void {
    this.record({ type: "PASSWORD_CHANGED", userId: actor.userId, sessionId: actor.sessionId, origin }, "password changed");
  }

  /**
   * `userId` when the email belongs to an account, else null; `sessionId` when the password was
   * typed in a signed-in session (re-authentication before a change).
   */
  loginFailed(userId: string | null, clientIp: string, origin?: AuditOrigin, sessionId: string | null = null): void {
    this.metrics.loginFailures.inc();
    this.record({ type: "LOGIN_FAILED", userId, sessionId, origin: origin ?? { clientIp } }, "login failed");
  }

  /**
   * `scope`: what refused — one (account, IP) pair's count (for passkeys: one credential), the IP's
   * count across accounts, one address's recovery mails, or the password-hashing queue. Logged and
   * counted every time; written to the trail once per reason, scope and client (an IPv6 /64) per
   * THROTTLED_TRAIL_EVERY_MS: a refusal costs its sender nothing, and a flood of them would
   * otherwise fill the global stream to AUDIT_MAX_EVENTS and push every real event out of it.
   */
  throttled(reason: ThrottleReason, scope: "pair" | "ip" | "address" | "hash_queue", clientIp: string, origin?: AuditOrigin): void {
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
      eventId: newEventId(),
      type: event.type,
      actorId: event.actorId ?? null,
      userId: event.userId,
      sessionId: event.sessionId ?? null,
      clientIp: event.origin?.clientIp ?? null,
      userAgent: clientReported(event.origin?.userAgent, MAX_USER_AGENT_LENGTH),
      device: clientReported(event.device, MAX_DEVICE_LENGTH),
      details: event.details ?? {},
    };
    this.metrics.auditEvents.inc({ type: entry.type });
    const { details, userId, ...rest } = entry;
    const set = Object.fromEntries(Object.entries(rest).filter(([name, value]) => value !== null && name !== "type"));
    this.logger.warn({ ...details, ...line, audit: logAs, userId, ...set }, message);
    if (!toTrail) return;
    this.trail?.append(entry, userStreamOf(entry)).catch((error: unknown) => {
      this.metrics.auditWriteFailures.inc();
      const { name, message: reason } = error instanceof Error ? error : { name: "Error", message: String(error) };
      this.logger.error({ audit: logAs, eventId: entry.eventId, userId, err: { name, message: reason } }, "audit event not written to the trail");
    });
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
    this.recordFields(`mfa_${event}`, fields, message);
  }

  /**
   * The flows' events (second factor, passkeys, mail) into `record`, so each reaches the trail too:
   * the type is the log name in upper snake case, the ids and address are lifted out of `fields`,
   * the rest are the details.
   */
  private recordFields(logAs: string, fields: Record<string, unknown>, message: string): void {
    const { userId = null, actorId = null, sessionId = null, clientIp, ...details } = fields as {
      userId?: string | null;
      actorId?: string | null;
      sessionId?: string | null;
      clientIp?: string;
    } & Record<string, unknown>;
    const origin = typeof clientIp === "string" ? { clientIp } : undefined;
    this.record({ type: logAs.toUpperCase(), userId, actorId, sessionId, origin, details }, message, logAs);
  }

  /**
   * A passkey sign-in refused: `cause` says why (unknown credential, bad signature, wrong origin,
   * used or expired challenge, no user verification...). `userId` when the credential is known.
   */
  passkeyLoginFailed(userId: string | null, cause: string, clientIp: string): void {
    this.metrics.passkeyFailures.inc({ cause });
    this.recordFields("passkey_login_failed", { userId, cause, clientIp }, "passkey sign-in refused");
  }

  /** The signature counter went backwards: two authenticators may hold one private key (a clone). */
  passkeyCounterRegressed(userId: string, passkeyId: string, stored: number, presented: number, clientIp: string): void {
    this.metrics.passkeyFailures.inc({ cause: "counter_regressed" });
    this.recordFields(
      "passkey_counter_regressed",
      { userId, passkeyId, stored, presented, clientIp },
      "passkey signature counter went backwards: possible cloned authenticator; sign-in refused",
    );
  }

  /**
   * A passkey registration refused: `cause` says which check (origin, rp_id, user_verification,
   * challenge, attestation, ...), `details` what it saw (the page's origin); never the credential.
   */
  passkeyRegistrationFailed(userId: string, sessionId: string, cause: string, details: Record<string, string>, clientIp: string): void {
    this.recordFields("passkey_registration_failed", { userId, sessionId, cause, ...details, clientIp }, `passkey registration refused: ${cause}`);
  }

  passkeyRegistered(userId: string, sessionId: string, passkeyId: string, clientIp: string): void {
    this.metrics.passkeyChanges.inc({ change: "registered" });
    this.recordFields("passkey_registered", { userId, sessionId, passkeyId, clientIp }, "passkey registered");
  }

  /** `ended`: the live sessions the passkey had started, ended with it. */
  passkeyRemoved(userId: string, sessionId: string, passkeyId: string, ended: number, clientIp: string): void {
    this.metrics.passkeyChanges.inc({ change: "removed" });
    this.recordFields("passkey_removed", { userId, sessionId, passkeyId, ended, clientIp }, "passkey removed");
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

  /** `reverted`: the change had gone through and the account moved back to its old address. */
  emailChangeCancelled(userId: string, clientIp: string, endedSessions: number, reverted: boolean): void {
    this.emailEvent("email_change_cancelled", { userId, clientIp, endedSessions, reverted }, "email change cancelled from the old address: every session ended");
  }

  /** REQUIRE_VERIFIED_EMAIL=on: register with an address that has an account; its owner is told. */
  registerExistingAddress(userId: string, clientIp: string): void {
    this.emailEvent("register_existing_address", { userId, clientIp }, "register with an existing address: owner notified");
  }

  private emailEvent(event: string, fields: Record<string, unknown>, message: string): void {
    this.metrics.accountEmailEvents.inc({ event });
    this.recordFields(event, fields, message);
  }
}

/**
 * An event's id: 96 random bits, 16 base64url characters. Made once, before the event is logged
 * and written to each stream, so the log line and every stream name the event alike.
 */
function newEventId(): string {
  return randomBytes(12).toString("base64url");
}
