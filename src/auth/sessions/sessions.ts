import { isRevoked, type RevocationEvent, type RevocationListener, type SignedInEvent } from "@revocable-auth/verifier/internal";
import { systemClock, type Clock } from "../../clock";
import { accountDisabled, AuthError, dpopProofReplayed, dpopProofRequired, invalidCredentials, invalidDpopProof, reauthenticationRequired, tokenRevoked, unauthenticated } from "../../errors";
import type { FederationStateStore, IdentityStore, ProviderLink, RemovePasskeyResult, SessionRecord, SessionStore, TransitionStore, UnlinkIdentityResult, UserRecord } from "../../store/store";
import { UNKNOWN_ASSURANCE, type Assurance } from "../tokens/assurance";
import type { Audit, AuditOrigin } from "../audit/audit";
import type { DpopProofs } from "../dpop/proofs";
import type { Identity } from "../tokens/authenticator";
import { clientReported, MAX_DEVICE_LENGTH } from "../shared/client-text";
import { randomId, type IssuedToken, type Tokens } from "../tokens/tokens";

/** What login, register and refresh hand back. */
export interface AuthResult {
  readonly accessToken: IssuedToken;
  readonly refreshToken: IssuedToken;
  readonly session: SessionRecord;
  readonly user: UserRecord;
}

/** A step-up's result; `upgraded`: the session was waiting for its second factor, and its sign-in completes now. */
export interface StepUpOutcome extends AuthResult {
  readonly upgraded: boolean;
}

/** MFA_PENDING_TTL_SECONDS and MFA_PENDING_MAX_PER_USER: the sessions that wait for their second factor. */
export interface PendingPolicy {
  /** A whole number of seconds, in ms, so the refresh token's `exp` is the session's end exactly. */
  readonly ttlMs: number;
  readonly maxPerUser: number;
}

export interface SessionPolicy {
  /** REFRESH_REUSE_GRACE_SECONDS, in ms; 0 is strict rotation. */
  readonly graceMs?: number;
  onGraceHit?(): void;
  /** Starting one more session ends the user's oldest one (MAX_SESSIONS_PER_USER). */
  readonly maxPerUser?: number;
  /**
   * A password sign-in of a user with a second factor on starts a pending session: its own
   * lifetime and cap, never counted toward `maxPerUser` nor ending a full session. Absent: such a
   * sign-in starts a full session (the store's contract without PendingLimits).
   */
  readonly pending?: PendingPolicy;
  readonly audit?: Audit;
  /** A session began (the `sessionEvents` subscription's SIGNED_IN). */
  onSignedIn?(event: SignedInEvent): void;
  /** Stamps each event's `at`, and when a session last authenticated. */
  readonly clock?: Clock;
  /** REAUTH_MAX_AGE_SECONDS, in ms: how long a sign-in, step-up or reauthenticate counts as recent. 300 s when absent. */
  readonly reauthMaxAgeMs?: number;
  /** DPOP and DPOP_REQUIRED_FOR_ROLES: which sign-ins must bring a DPoP proof. Absent: none must. */
  readonly dpop?: DpopProofs;
}

const DEFAULT_REAUTH_MAX_AGE_MS = 300_000;

/** The most of a User-Agent a notice quotes when the session has no device name. */
const MAX_DEVICE_CHARS = 120;

/**
 * Which device a credential change came from, as a notice names it: the device name the session
 * was given at sign-in, else the User-Agent of the request that made the change; null when neither.
 */
export function deviceOf(session: { readonly device: string | null } | null, origin: { readonly userAgent?: string | null }): string | null {
  const named = session?.device?.trim();
  if (named) return named;
  return clientReported(origin.userAgent, MAX_DEVICE_CHARS);
}

/**
 * A session is one device's login. It owns exactly one live refresh token, rotated on every
 * refresh; presenting a rotated-out one is taken as theft and ends the session.
 */
export class Sessions {
  constructor(
    private readonly store: SessionStore & Pick<TransitionStore, "removePasskey"> & Pick<IdentityStore, "unlinkIdentity"> & Pick<FederationStateStore, "recordProviderSession" | "forgetProviderSession">,
    private readonly tokens: Tokens,
    private readonly onRevoked: RevocationListener = () => undefined,
    private readonly policy: SessionPolicy = {},
  ) {}

  /**
   * `assurance`: what the sign-in proved (assurance.ts), e.g. PASSWORD; the session keeps it.
   * `passwordHash`: the one a login checked; the session starts only while it is still current.
   * `passkeyId`: the passkey a sign-in verified; the session starts only while the user holds it,
   * and removing the passkey ends it (removePasskey). `jkt`: the DPoP key the sign-in proved
   * possession of; the session keeps it and every token of the session is bound to it.
   * `federation`: the provider session a provider sign-in came from; the session records it, and
   * the provider's back-channel logout finds the session by it for as long as the session lives.
   * `federationStartedAt`: when that sign-in's flow started; a back-channel logout received since
   * for its provider session (or subject) refuses it (TOKEN_REVOKED), however the two interleave.
   */
  async start(
    user: UserRecord,
    reportedDevice: string | null,
    assurance: Assurance,
    passwordHash?: string,
    passkeyId?: string,
    jkt?: string,
    federation?: ProviderLink,
    federationStartedAt?: number,
  ): Promise<AuthResult> {
    this.policy.dpop?.requireForSignIn(user.roles, jkt);
    const device = clientReported(reportedDevice, MAX_DEVICE_LENGTH);
    const sessionId = randomId();
    const stamp = this.tokens.nextRefreshStamp();
    const pendingPolicy = this.policy.pending;
    const pending = pendingPolicy && { expiresAt: Math.min(stamp.expiresAt, stamp.issuedAt + pendingPolicy.ttlMs), maxPerUser: pendingPolicy.maxPerUser };
    const result = await this.store.createSession(
      {
        id: sessionId,
        userId: user.id,
        device,
        expiresAt: stamp.expiresAt,
        refreshJti: stamp.jti,
        assurance,
        passwordHash,
        ...(passkeyId === undefined ? {} : { passkeyId }),
        ...(jkt === undefined ? {} : { jkt }),
        ...(federation === undefined ? {} : { federation }),
        authenticatedAt: this.now(),
      },
      this.policy.maxPerUser,
      pending,
    );
    if (result.status !== "created") {
      throw result.status === "user_disabled" ? accountDisabled() : invalidCredentials();
    }
    const { session } = result;
    // Indexed for the refresh token's whole lifetime, not the pending session's: verifyMfa carries it on.
    // After the session exists and before any token leaves: a logout that marked its provider session
    // first refuses the entry here; one that marks it after finds the entry, and the session, to end.
    if (!(await this.indexProviderSession(session, stamp.expiresAt, federationStartedAt ?? 0))) {
      await this.store.endSession(user.id, sessionId);
      throw unauthenticated("TOKEN_REVOKED", "The provider signed this session out (back-channel logout) before the sign-in completed");
    }
    // A pending session's refresh token ends with it; a pending one the cap ended is gone like an
    // expired one: it never held a socket (connection_init refuses it), so nobody is told.
    const refreshToken = this.tokens.signRefresh(user.id, sessionId, { ...stamp, expiresAt: session.expiresAt }, jkt);
    if (session.pending !== true) {
      for (const evicted of result.evicted) this.revoked({ kind: "session_cap", userId: user.id, sessionId: evicted });
      // The sessions the cap ended most likely came from the same provider account: out of its indexes.
      if (federation !== undefined) for (const evicted of result.evicted) await this.forgetProviderSession({ ...session, id: evicted });
      this.policy.onSignedIn?.({ userId: user.id, sessionId, device, at: this.now(), ...(federation === undefined ? {} : { provider: federation.provider }) });
    }
    const accessToken = this.tokens.issueAccess(user.id, sessionId, user.roles, assurance, user.emailVerified === true, jkt);
    return { accessToken, refreshToken, session, user };
  }

  /**
   * A sign-in that names its DPoP key before it proves anything (a provider sign-in's `dpop_jkt`):
   * the key its session will be bound to, none under DPOP=off. DPOP_PROOF_REQUIRED without one
   * under DPOP=required; the roles' rule (DPOP_REQUIRED_FOR_ROLES) is `start`'s, once the user is known.
   */
  bindingAhead(jkt: string | undefined): string | undefined {
    const dpop = this.policy.dpop;
    if (dpop === undefined || !dpop.enabled) return undefined;
    dpop.requireForSignIn([], jkt);
    return jkt;
  }

  /**
   * Raises the caller's session to `assurance` once a further factor was proved for it, and hands
   * out new tokens at that level. The session gets a new refresh-token family: every refresh token
   * issued before (the login's aal1 one included) is refused from now on as reuse, which ends the
   * session, so a token taken before the second factor can never be refreshed into aal2.
   * A pending session becomes a full one here: it counts toward MAX_SESSIONS_PER_USER from now on
   * (the oldest full one may end for it), and its sign-in is announced now, not at the password.
   */
  async stepUp(identity: Identity, assurance: Assurance): Promise<StepUpOutcome> {
    // A bound session's token came with a proof from its key (Authenticator): the new tokens stay bound to it.
    const refreshToken = this.tokens.issueRefresh(identity.userId, identity.sessionId, identity.jkt);
    const result = await this.store.stepUpSession({
      userId: identity.userId,
      sessionId: identity.sessionId,
      assurance,
      nextJti: refreshToken.jti,
      nextExpiresAt: refreshToken.expiresAt,
      authenticatedAt: this.now(),
      ...(this.policy.maxPerUser === undefined ? {} : { maxPerUser: this.policy.maxPerUser }),
    });
    if (result.status !== "raised") throw unauthenticated("TOKEN_REVOKED", "This session has ended");
    const { session, user, upgraded } = result;
    await this.indexProviderSession(session, session.expiresAt);
    for (const evicted of result.evicted) this.revoked({ kind: "session_cap", userId: user.id, sessionId: evicted });
    if (upgraded) this.policy.onSignedIn?.({ userId: user.id, sessionId: session.id, device: session.device, at: this.now(), ...(session.federation === undefined ? {} : { provider: session.federation.provider }) });
    const accessToken = this.tokens.issueAccess(user.id, session.id, user.roles, assurance, false, identity.jkt);
    return { accessToken, refreshToken, session, user, upgraded };
  }

  /**
   * Rotates the session's refresh token. Inside the grace window, the token the last rotation
   * replaced gets that rotation's outcome again: the same refresh token, signed anew from what the
   * session stores, and a fresh access token. Anything older is reuse and ends the session.
   */
  async refresh(presented: string, origin?: AuditOrigin & { readonly dpopKey?: string; readonly dpopProofJti?: string }): Promise<AuthResult> {
    const claims = this.tokens.verifyRefresh(presented);
    // Checked before the rotation: a copied refresh token without its key must not even rotate the session.
    if (claims.jkt !== undefined && claims.jkt !== origin?.dpopKey) throw invalidDpopProof(origin?.dpopKey === undefined ? "missing" : "jkt");
    // Nor with a copied proof of that key: the rotation records the proof's jti, and refuses a seen one.
    const proofJti = claims.jkt === undefined ? undefined : origin?.dpopProofJti;
    const proof = proofJti === undefined || this.policy.dpop === undefined ? undefined : { jti: proofJti, ttlSeconds: this.policy.dpop.replayWindowSeconds };
    const next = this.tokens.nextRefreshStamp();
    const result = await this.store.rotateSession({
      userId: claims.sub,
      sessionId: claims.sid,
      presentedJti: claims.jti,
      nextJti: next.jti,
      nextExpiresAt: next.expiresAt,
      nextIssuedAt: next.issuedAt,
      graceMs: this.policy.graceMs ?? 0,
      ...(proof === undefined ? {} : { proof }),
    });
    switch (result.status) {
      case "rotated":
      case "grace": {
        if (result.status === "grace") this.policy.onGraceHit?.();
        const { session, user } = result;
        if (session.jkt === undefined && this.policy.dpop?.requiresBinding(user.roles) === true) {
          await this.end(user.id, session.id, "session");
          throw dpopProofRequired();
        }
        // Also on a grace hit: a retry after a failed index write repairs it.
        await this.indexProviderSession(session, session.expiresAt);
        const refreshToken = this.tokens.signRefresh(
          user.id,
          session.id,
          { jti: session.refreshJti, issuedAt: session.rotation?.issuedAt ?? next.issuedAt, expiresAt: session.expiresAt },
          session.jkt,
        );
        // The level the session holds, never more: only stepUp raises it.
        const accessToken = this.tokens.issueAccess(user.id, session.id, user.roles, session.assurance ?? UNKNOWN_ASSURANCE, user.emailVerified === true, session.jkt);
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
      case "proof_replayed":
        throw dpopProofReplayed();
    }
  }

  /**
   * The caller's session as it stands, read at the time of a sensitive operation (never on the
   * per-request path); refused like a revoked token when it ended.
   */
  async current(identity: Identity): Promise<SessionRecord> {
    const state = await this.store.accessState(identity.userId, identity.sessionId, identity.jti);
    if (isRevoked(state)) throw tokenRevoked();
    return state.session!;
  }

  /** Whether the user's session is live (not ended, the user not disabled), read now. */
  async isLive(userId: string, sessionId: string): Promise<boolean> {
    return !isRevoked(await this.store.accessState(userId, sessionId, ""));
  }

  /**
   * The gate of every operation that adds a credential (a passkey, TOTP, recovery codes, a linked
   * sign-in): the caller's session proved a credential within REAUTH_MAX_AGE_SECONDS (its sign-in,
   * a step-up, reauthenticate), else REAUTHENTICATION_REQUIRED. A stolen access token alone adds
   * nothing. Returns the session, for the notice that names its device.
   */
  async requireRecentAuthentication(identity: Identity): Promise<SessionRecord> {
    const session = await this.current(identity);
    const at = session.authenticatedAt;
    if (at === undefined || this.now() - at > (this.policy.reauthMaxAgeMs ?? DEFAULT_REAUTH_MAX_AGE_MS)) throw reauthenticationRequired();
    return session;
  }

  /** The caller just proved a credential again (reauthenticate): their session counts as recently authenticated. */
  async markAuthenticated(identity: Identity): Promise<void> {
    if (!(await this.store.markSessionAuthenticated(identity.userId, identity.sessionId, this.now()))) throw tokenRevoked();
  }

  /** `logout`: revokes the presented access token by its jti and ends its session. */
  async logout(identity: Identity, origin?: AuditOrigin): Promise<void> {
    const ended = await this.store.endSession(identity.userId, identity.sessionId, {
      jti: identity.jti,
      expiresAt: identity.expiresAt,
    });
    this.revoked({ kind: "logout", userId: identity.userId, sessionId: identity.sessionId, ...endedDevice(ended) });
    this.policy.audit?.signedOut(identity, "session", 1, origin);
    await this.forgetProviderSession(ended);
  }

  list(userId: string): Promise<SessionRecord[]> {
    return this.store.listSessions(userId);
  }

  /** `revokeSession`: ends one of the caller's own sessions; a session of anyone else is simply not found. */
  async revoke(identity: Identity, sessionId: string, origin?: AuditOrigin): Promise<void> {
    const ended = await this.store.endSession(identity.userId, sessionId);
    if (!ended) throw new AuthError("NOT_FOUND", "SESSION_NOT_FOUND", "No such session");
    this.revoked({ kind: "session", userId: identity.userId, sessionId, ...endedDevice(ended) });
    this.policy.audit?.sessionRevoked(identity, sessionId, origin);
    await this.forgetProviderSession(ended);
  }

  /**
   * `logoutOthers`: endOthers, recorded in the caller's history. Ending nothing changes nothing,
   * so it is no event of the history either.
   */
  async signOutOthers(identity: Identity, origin?: AuditOrigin): Promise<number> {
    const ended = await this.endOthers(identity);
    if (ended > 0) this.policy.audit?.signedOut(identity, "others", ended, origin);
    return ended;
  }

  /** `logoutAll`: endAll from one of the user's own sessions, recorded in their history. */
  async signOutEverywhere(identity: Identity, origin?: AuditOrigin): Promise<number> {
    const ended = await this.endAll(identity.userId);
    this.policy.audit?.signedOut(identity, "all", ended, origin);
    return ended;
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
   * their last way in (no password, no other passkey, no linked provider identity).
   */
  async removePasskey(userId: string, passkeyId: string): Promise<RemovePasskeyResult> {
    const result = await this.store.removePasskey(userId, passkeyId);
    // One event per ended session: only their sockets close; the user's other sessions go on.
    if (result.status === "removed") for (const sessionId of result.sessionIds) this.revoked({ kind: "passkey_removed", userId, sessionId });
    return result;
  }

  /**
   * Unlinks one of the user's provider identities and ends the sessions it started, in one step,
   * unless it is their last way in. Those sessions' sockets close; the user's others go on.
   */
  async unlinkIdentity(userId: string, identityId: string): Promise<UnlinkIdentityResult> {
    const result = await this.store.unlinkIdentity(userId, identityId);
    if (result.status === "unlinked") for (const sessionId of result.sessionIds) this.revoked({ kind: "session", userId, sessionId });
    return result;
  }

  /**
   * Ends one session for a reason outside the user's hands (a provider's back-channel logout, a
   * role that now needs DPoP-bound sessions, a sign-out at an app that signed in through this API); true when it was live. Its sockets close with the event.
   */
  async end(userId: string, sessionId: string, kind: "provider_logout" | "session" | "logout"): Promise<boolean> {
    const ended = await this.store.endSession(userId, sessionId);
    if (ended) this.revoked({ kind, userId, sessionId, ...endedDevice(ended) });
    await this.forgetProviderSession(ended);
    return ended !== null;
  }

  /**
   * A user now holds a role of DPOP_REQUIRED_FOR_ROLES: their sessions without a DPoP key end, each
   * in its own step, and their sockets close as for any ended session; bound ones go on. Returns
   * how many ended. A session this misses (begun meanwhile, or pending) is refused on its next
   * request by the Authenticator, which reads the roles of now.
   */
  async endUnbound(user: UserRecord): Promise<number> {
    if (this.policy.dpop?.requiresBinding(user.roles) !== true) return 0;
    const unbound = (await this.store.listSessions(user.id)).filter((session) => session.jkt === undefined);
    let count = 0;
    for (const { id } of unbound) if (await this.end(user.id, id, "session")) count += 1;
    return count;
  }

  /** Ends every session of the user with one write; returns how many were live. */
  async endAll(userId: string): Promise<number> {
    const ended = await this.store.endAllSessions(userId);
    this.revoked({ kind: "all_sessions", userId });
    return ended;
  }

  /**
   * A provider's session index lasts as long as the session: each new expiry (sign-in, refresh,
   * step-up) moves it on. A failure fails the step (the client retries; inside the grace window
   * the retry writes it again): a session the provider's logout could not find would outlive the
   * provider's sign-out. `startedAt`: a sign-in's, which a logout marked since refuses (false).
   * The cap bounds an index (and a logout by `sub`) to the sessions a user can hold at once, with
   * room to spare: a backstop behind forgetProviderSession, for sessions that end all at once.
   */
  private async indexProviderSession(session: SessionRecord, until: number, startedAt?: number): Promise<boolean> {
    if (session.federation === undefined) return true;
    const held = this.policy.maxPerUser === undefined ? 0 : this.policy.maxPerUser + (this.policy.pending?.maxPerUser ?? 0);
    const indexing = { ...(startedAt === undefined ? {} : { startedAt }), ...(held === 0 ? {} : { cap: 2 * held }) };
    const provider = { ...session.federation, userId: session.userId, sessionId: session.id };
    if (await this.store.recordProviderSession(provider, until, indexing)) return true;
    await this.store.forgetProviderSession(provider);
    return false;
  }

  /**
   * An ended session leaves its provider's indexes. Best effort: the session has ended whatever
   * happens here, and an entry left behind is only a no-op for a logout, gone at its expiry or the cap.
   */
  private async forgetProviderSession(ended: SessionRecord | null): Promise<void> {
    if (ended?.federation === undefined) return;
    await this.store.forgetProviderSession({ ...ended.federation, userId: ended.userId, sessionId: ended.id }).catch(() => undefined);
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
function endedDevice(ended: SessionRecord | null): { device?: string } {
  return ended?.device ? { device: ended.device } : {};
}
