import type { RevocationEvent, RevocationListener, SignedInEvent } from "@revocable-auth/verifier";
import { systemClock, type Clock } from "../clock";
import { accountDisabled, AuthError, invalidCredentials, unauthenticated } from "../errors";
import type { SessionRecord, Store, UserRecord } from "../store/store";
import type { Audit } from "./audit";
import type { Identity } from "./authenticator";
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

  /** `passwordHash`: the one a login checked; the session starts only while it is still current. */
  async start(user: UserRecord, device: string | null, passwordHash?: string): Promise<AuthResult> {
    const sessionId = randomId();
    const refreshToken = this.tokens.issueRefresh(user.id, sessionId);
    const result = await this.store.createSession({
      id: sessionId,
      userId: user.id,
      device,
      expiresAt: refreshToken.expiresAt,
      refreshJti: refreshToken.jti,
      passwordHash,
    }, this.policy.maxPerUser);
    if (result.status !== "created") {
      throw result.status === "user_disabled" ? accountDisabled() : invalidCredentials();
    }
    for (const evicted of result.evicted) this.revoked({ kind: "session_cap", userId: user.id, sessionId: evicted });
    this.policy.onSignedIn?.({ userId: user.id, sessionId, device, at: this.now() });
    const accessToken = this.tokens.issueAccess(user.id, sessionId, user.roles);
    return { accessToken, refreshToken, session: result.session, user };
  }

  /**
   * Rotates the session's refresh token. Inside the grace window, the token the last rotation
   * replaced gets that rotation's outcome again: the same refresh token, signed anew from what the
   * session stores, and a fresh access token. Anything older is reuse and ends the session.
   */
  async refresh(presented: string): Promise<AuthResult> {
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
        const accessToken = this.tokens.issueAccess(user.id, session.id, user.roles);
        return { accessToken, refreshToken, session, user };
      }
      case "reused":
        this.revoked({ kind: "refresh_reuse", userId: claims.sub, sessionId: claims.sid });
        this.policy.audit?.refreshReused(claims.sub, claims.sid);
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
    await this.store.endSession(identity.userId, identity.sessionId, {
      jti: identity.jti,
      expiresAt: identity.expiresAt,
    });
    this.revoked({ kind: "logout", userId: identity.userId, sessionId: identity.sessionId });
  }

  list(userId: string): Promise<SessionRecord[]> {
    return this.store.listSessions(userId);
  }

  /** Ends one of the user's own sessions; a session of anyone else is simply not found. */
  async revoke(userId: string, sessionId: string): Promise<void> {
    if (!(await this.store.endSession(userId, sessionId))) {
      throw new AuthError("NOT_FOUND", "SESSION_NOT_FOUND", "No such session");
    }
    this.revoked({ kind: "session", userId, sessionId });
  }

  /** Ends every session of the caller but the current one; returns how many were live. */
  async endOthers(identity: Identity): Promise<number> {
    const ended = await this.store.endOtherSessions(identity.userId, identity.sessionId);
    this.revoked({ kind: "other_sessions", userId: identity.userId, keepSessionId: identity.sessionId });
    return ended;
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
