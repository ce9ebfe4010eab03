import { accountDisabled, AuthError, invalidCredentials, unauthenticated } from "../errors";
import type { SessionRecord, Store, UserRecord } from "../store/store";
import type { Audit } from "./audit";
import type { Identity } from "./authenticator";
import type { RevocationListener } from "./revocation";
import { randomId, type IssuedToken, type Tokens } from "./tokens";

/** What login, register and refresh hand back. */
export interface AuthResult {
  readonly accessToken: IssuedToken;
  readonly refreshToken: IssuedToken;
  readonly session: SessionRecord;
  readonly user: UserRecord;
}

export interface SessionPolicy {
  /** Starting one more session ends the user's oldest one (MAX_SESSIONS_PER_USER). */
  readonly maxPerUser?: number;
  readonly audit?: Audit;
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

  async start(user: UserRecord, device: string | null): Promise<AuthResult> {
    const sessionId = randomId();
    const refreshToken = this.tokens.issueRefresh(user.id, sessionId);
    const result = await this.store.createSession({
      id: sessionId,
      userId: user.id,
      device,
      expiresAt: refreshToken.expiresAt,
      refreshJti: refreshToken.jti,
    }, this.policy.maxPerUser);
    if (result.status !== "created") {
      throw result.status === "user_disabled" ? accountDisabled() : invalidCredentials();
    }
    const accessToken = this.tokens.issueAccess(user.id, sessionId, user.roles);
    return { accessToken, refreshToken, session: result.session, user };
  }

  async refresh(presented: string): Promise<AuthResult> {
    const claims = this.tokens.verifyRefresh(presented);
    const refreshToken = this.tokens.issueRefresh(claims.sub, claims.sid);
    const result = await this.store.rotateSession({
      userId: claims.sub,
      sessionId: claims.sid,
      presentedJti: claims.jti,
      nextJti: refreshToken.jti,
      nextExpiresAt: refreshToken.expiresAt,
    });
    switch (result.status) {
      case "rotated": {
        const accessToken = this.tokens.issueAccess(result.user.id, claims.sid, result.user.roles);
        return { accessToken, refreshToken, session: result.session, user: result.user };
      }
      case "reused":
        this.onRevoked("refresh_reuse");
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
    this.onRevoked("logout");
  }

  list(userId: string): Promise<SessionRecord[]> {
    return this.store.listSessions(userId);
  }

  /** Ends one of the user's own sessions; a session of anyone else is simply not found. */
  async revoke(userId: string, sessionId: string): Promise<void> {
    if (!(await this.store.endSession(userId, sessionId))) {
      throw new AuthError("NOT_FOUND", "SESSION_NOT_FOUND", "No such session");
    }
    this.onRevoked("session");
  }

  /** Ends every session of the user with one write; returns how many were live. */
  async endAll(userId: string): Promise<number> {
    const ended = await this.store.endAllSessions(userId);
    this.onRevoked("all_sessions");
    return ended;
  }
}
