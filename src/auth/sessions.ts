import type { RevocationEvent, RevocationListener, SignedInEvent } from "@revocable-auth/verifier";
import { systemClock, type Clock } from "../clock";
import { accountDisabled, AuthError, invalidCredentials, unauthenticated } from "../errors";
import type { RemovePasskeyResult, SessionRecord, Store, UserRecord } from "../store/store";
import { UNKNOWN_ASSURANCE, type Assurance } from "./assurance";
import type { Audit, AuditOrigin } from "./audit";
import type { Identity } from "./authenticator";
import { clientReported, MAX_DEVICE_LENGTH } from "./client-text";
import { randomId, type IssuedToken, type Tokens } from "./tokens";

/** What login, register and refresh hand back. */
export interface AuthResult {
  readonly accessToken: IssuedToken;
  readonly refreshToken: IssuedToken;
  readonly session: SessionRecord;
  readonly user: UserRecord;
}

export interface SessionPolicy {
  /** REFRESH_REUSE_GRACE_SECONDS, in ms; 0 is strict rotation. */
  readonly graceMs?: number;
  onGraceHit?(): void;
  /** Starting one more session ends the user's oldest one (MAX_SESSIONS_PER_USER). */
  readonly maxPerUser?: number;
  readonly audit?: Audit;
  /** A session began (the `sessionEvents` subscription's SIGNED_IN). */
  onSignedIn?(event: SignedInEvent): void;
  /** Stamps each event's `at`. */
  readonly clock?: Clock;
}

/**
 * A session is one device's login. It owns exactly one live refresh token, rotated on every
 * refresh; presenting a rotated-out one is taken as theft and ends the session.
 */
export class Sessions {
  constructor(
    private readonly store: Store,
    private readonly tokens: Tokens,
    private readonly onRevoked: RevocationListener = () => undefined,
    private readonly policy: SessionPolicy = {},
  ) {}

  /**
   * `assurance`: what the sign-in proved (assurance.ts), e.g. PASSWORD; the session keeps it.
   * `passwordHash`: the one a login checked; the session starts only while it is still current.
   * `passkeyId`: the passkey a sign-in verified; the session starts only while the user holds it,
   * and removing the passkey ends it (removePasskey).
   */
  async start(user: UserRecord, reportedDevice: string | null, assurance: Assurance, passwordHash?: string, passkeyId?: string): Promise<AuthResult> {
    const device = clientReported(reportedDevice, MAX_DEVICE_LENGTH);
    const sessionId = randomId();
    const refreshToken = this.tokens.issueRefresh(user.id, sessionId);
    const result = await this.store.createSession({
      id: sessionId,
      userId: user.id,
      device,
      expiresAt: refreshToken.expiresAt,
      refreshJti: refreshToken.jti,
      assurance,
      passwordHash,
      ...(passkeyId === undefined ? {} : { passkeyId }),
    }, this.policy.maxPerUser);
    if (result.status !== "created") {
      throw result.status === "user_disabled" ? accountDisabled() : invalidCredentials();
    }
    for (const evicted of result.evicted) this.revoked({ kind: "session_cap", userId: user.id, sessionId: evicted });
    this.policy.onSignedIn?.({ userId: user.id, sessionId, device, at: this.now() });
    const accessToken = this.tokens.issueAccess(user.id, sessionId, user.roles, assurance, user.emailVerified === true);
    return { accessToken, refreshToken, session: result.session, user };
  }

  /**
   * Raises the caller's session to `assurance` once a further factor was proved for it, and hands
   * out new tokens at that level. The session gets a new refresh-token family: every refresh token
   * issued before (the login's aal1 one included) is refused from now on as reuse, which ends the
   * session, so a token taken before the second factor can never be refreshed into aal2.
   */
  async stepUp(identity: Identity, assurance: Assurance): Promise<AuthResult> {
    const refreshToken = this.tokens.issueRefresh(identity.userId, identity.sessionId);
    const result = await this.store.stepUpSession({
      userId: identity.userId,
      sessionId: identity.sessionId,
      assurance,
      nextJti: refreshToken.jti,
      nextExpiresAt: refreshToken.expiresAt,
    });
    if (result.status !== "raised") throw unauthenticated("TOKEN_REVOKED", "This session has ended");
    const { session, user } = result;
    const accessToken = this.tokens.issueAccess(user.id, session.id, user.roles, assurance);
    return { accessToken, refreshToken, session, user };
  }

  /**
   * Rotates the session's refresh token. Inside the grace window, the token the last rotation
   * replaced gets that rotation's outcome again: the same refresh token, signed anew from what the
   * session stores, and a fresh access token. Anything older is reuse and ends the session.
   */
  async refresh(presented: string, origin?: AuditOrigin): Promise<AuthResult> {
    const claims = this.tokens.verifyRefresh(presented);
    const next = this.tokens.nextRefreshStamp();
    const result = await this.store.rotateSession({
      userId: claims.sub,
      sessionId: claims.sid,
      presentedJti: claims.jti,
      nextJti: next.jti,
      nextExpiresAt: next.expiresAt,
      nextIssuedAt: next.issuedAt,
      graceMs: this.policy.graceMs ?? 0,
    });
    switch (result.status) {
      case "rotated":
      case "grace": {
        if (result.status === "grace") this.policy.onGraceHit?.();
        const { session, user } = result;
        const refreshToken = this.tokens.signRefresh(user.id, session.id, {
          jti: session.refreshJti,
          issuedAt: session.rotation?.issuedAt ?? next.issuedAt,
          expiresAt: session.expiresAt,
        });
        // The level the session holds, never more: only stepUp raises it.
        const accessToken = this.tokens.issueAccess(user.id, session.id, user.roles, session.assurance ?? UNKNOWN_ASSURANCE, user.emailVerified === true);
        return { accessToken, refreshToken, session, user };
      }
      case "reused":
        this.revoked({ kind: "refresh_reuse", userId: claims.sub, sessionId: claims.sid });
        this.policy.audit?.refreshReused(claims.sub, claims.sid, origin);
        throw unauthenticated(
          "REFRESH_TOKEN_REUSED",
          "This refresh token was already used; the session has been ended. Log in again",
        );
      case "ended":
        throw unauthenticated("TOKEN_REVOKED", "The session of this refresh token has ended");
    }
  }

  /** Revokes the presented access token by its jti and ends its session. */
  async logout(identity: Identity): Promise<void> {
    const ended = await this.store.endSession(identity.userId, identity.sessionId, {
      jti: identity.jti,
      expiresAt: identity.expiresAt,
    });
    this.revoked({ kind: "logout", userId: identity.userId, sessionId: identity.sessionId, ...deviceOf(ended) });
  }

  list(userId: string): Promise<SessionRecord[]> {
    return this.store.listSessions(userId);
  }

  /** Ends one of the user's own sessions; a session of anyone else is simply not found. */
  async revoke(userId: string, sessionId: string): Promise<void> {
    const ended = await this.store.endSession(userId, sessionId);
    if (!ended) throw new AuthError("NOT_FOUND", "SESSION_NOT_FOUND", "No such session");
    this.revoked({ kind: "session", userId, sessionId, ...deviceOf(ended) });
  }

  /**
   * Ends every session of the caller but the current one; returns how many were live. When none
   * was, nothing was revoked and nothing is announced: a session holder can call this as often as
   * they like, and it must not flood the live channel (or, in the resolver, their history).
   */
  async endOthers(identity: Identity): Promise<number> {
    const ended = await this.store.endOtherSessions(identity.userId, identity.sessionId);
    if (ended > 0) this.revoked({ kind: "other_sessions", userId: identity.userId, keepSessionId: identity.sessionId });
    return ended;
  }

  /**
   * Removes one of the user's passkeys and ends the sessions it started, in one step, unless it is
   * their last way in (no password, no other passkey).
   */
  async removePasskey(userId: string, passkeyId: string): Promise<RemovePasskeyResult> {
    const result = await this.store.removePasskey(userId, passkeyId);
    // One event per ended session: only their sockets close; the user's other sessions go on.
    if (result.status === "removed") for (const sessionId of result.sessionIds) this.revoked({ kind: "passkey_removed", userId, sessionId });
    return result;
  }

  /** Ends every session of the user with one write; returns how many were live. */
  async endAll(userId: string): Promise<number> {
    const ended = await this.store.endAllSessions(userId);
    this.revoked({ kind: "all_sessions", userId });
    return ended;
  }

  /** The one way a revocation leaves the domain: stamped, then handed to the hook. */
  private revoked(event: Omit<RevocationEvent, "at">): void {
    this.onRevoked({ ...event, at: this.now() });
  }

  private now(): number {
    return (this.policy.clock ?? systemClock).now();
  }
}

/** The ended session's device name, for the event that tells the user's other sessions. */
function deviceOf(ended: SessionRecord | null): { device?: string } {
  return ended?.device ? { device: ended.device } : {};
}
