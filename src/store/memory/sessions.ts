import { isLiveSession, type AccessCheck, type AccessState, type BoundAccessState, type CreateSessionResult, type NewSession, type PendingLimits, type RevokedAccessToken, type RotateRequest, type RotateResult, type SessionRecord, type SessionStore, type StepUpRequest, type StepUpResult } from "../store";
import type { MemoryCore } from "./core";

/** Sessions and revocation; the per-request read. */
export function memorySessions(core: MemoryCore): SessionStore {
  function withinGrace(session: SessionRecord, request: RotateRequest): boolean {
    const last = session.rotation;
    const now = core.clock.now();
    return last !== undefined && last.previousJti === request.presentedJti && now >= last.at && now - last.at < request.graceMs;
  }

  async function accessState(userId: string, sessionId: string, jti: string): Promise<AccessState> {
    const revokedUntil = core.revoked.get(`${userId}/${jti}`);
    return {
      user: core.users.get(userId) ?? null,
      session: core.session(userId, sessionId),
      cutoff: core.cutoff(userId),
      accessTokenRevoked: revokedUntil !== undefined && revokedUntil > core.clock.now(),
    };
  }

  /** A DPoP proof's jti, remembered for `ttlSeconds`; false, changing nothing, when it already was. */
  function recordProof(userId: string, proofJti: string, ttlSeconds: number): boolean {
    const key = `${userId}/${proofJti}`;
    const now = core.clock.now();
    const seenUntil = core.dpopProofs.get(key);
    if (seenUntil !== undefined && seenUntil > now) return false;
    core.dpopProofs.set(key, now + ttlSeconds * 1000);
    return true;
  }

  return {
    accessState,

    async boundAccessState(userId: string, sessionId: string, jti: string, proofJti: string, ttlSeconds: number): Promise<BoundAccessState> {
      const proofReplayed = !recordProof(userId, proofJti, ttlSeconds);
      return { ...(await accessState(userId, sessionId, jti)), proofReplayed };
    },

    async createSession(session: NewSession, maxPerUser?: number, pendingLimits?: PendingLimits): Promise<CreateSessionResult> {
      const user = core.users.get(session.userId);
      if (!user) return { status: "user_missing" };
      if (user.disabled) return { status: "user_disabled" };
      const { passwordHash, ...fields } = session;
      if (passwordHash !== undefined && core.passwords.get(session.userId) !== passwordHash) return { status: "credentials_changed" };
      if (session.passkeyId !== undefined && !core.passkeys.get(session.userId)?.has(session.passkeyId)) return { status: "credentials_changed" };
      const pending = pendingLimits !== undefined && user.mfaEnabled === true && session.assurance.aal !== "aal2";
      const created = Math.max(core.clock.now(), (core.cutoff(session.userId) ?? 0) + 1);
      const record: SessionRecord = pending
        ? { ...fields, expiresAt: Math.min(fields.expiresAt, pendingLimits.expiresAt), pending: true, createdAt: created, lastUsedAt: created }
        : { ...fields, createdAt: created, lastUsedAt: created };
      core.sessionsOf(session.userId).set(session.id, record);
      const evicted = pending
        ? core.endOldest(session.userId, session.id, pendingLimits.maxPerUser, true)
        : maxPerUser === undefined
          ? []
          : core.endOldest(session.userId, session.id, maxPerUser, false);
      return { status: "created", session: record, evicted };
    },

    async rotateSession(request: RotateRequest): Promise<RotateResult> {
      const { userId, sessionId, proof } = request;
      if (proof !== undefined && !recordProof(userId, proof.jti, proof.ttlSeconds)) return { status: "proof_replayed" };
      const session = core.session(userId, sessionId);
      if (!session) return { status: "ended" };
      const user = core.users.get(userId);
      if (!user || user.disabled || !isLiveSession(session, core.cutoff(userId))) {
        core.sessionsOf(userId).delete(sessionId);
        return { status: "ended" };
      }
      if (session.refreshJti !== request.presentedJti) {
        if (withinGrace(session, request)) return { status: "grace", session, user };
        core.sessionsOf(userId).delete(sessionId);
        return { status: "reused" };
      }
      const now = core.clock.now();
      const rotated: SessionRecord = {
        ...session,
        refreshJti: request.nextJti,
        lastUsedAt: now,
        // A refresh never lengthens a pending session: only the step-up makes it a full one.
        expiresAt: session.pending ? Math.min(session.expiresAt, request.nextExpiresAt) : request.nextExpiresAt,
        rotation: { previousJti: request.presentedJti, at: now, issuedAt: request.nextIssuedAt },
      };
      core.sessionsOf(userId).set(sessionId, rotated);
      return { status: "rotated", session: rotated, user };
    },

    async stepUpSession(request: StepUpRequest): Promise<StepUpResult> {
      const { userId, sessionId } = request;
      const session = core.session(userId, sessionId);
      const user = core.users.get(userId);
      if (!session || !user || user.disabled || !isLiveSession(session, core.cutoff(userId))) return { status: "ended" };
      const { rotation: _forgotten, pending, ...rest } = session;
      const raised: SessionRecord = {
        ...rest,
        assurance: request.assurance,
        refreshJti: request.nextJti,
        expiresAt: request.nextExpiresAt,
        lastUsedAt: core.clock.now(),
        authenticatedAt: Math.max(session.authenticatedAt ?? 0, request.authenticatedAt),
      };
      core.sessionsOf(userId).set(sessionId, raised);
      const upgraded = pending === true;
      const evicted = upgraded && request.maxPerUser !== undefined ? core.endOldest(userId, sessionId, request.maxPerUser, false) : [];
      return { status: "raised", session: raised, user, upgraded, evicted };
    },

    async markSessionAuthenticated(userId: string, sessionId: string, at: number): Promise<boolean> {
      const session = core.session(userId, sessionId);
      const user = core.users.get(userId);
      if (!session || !user || user.disabled || !isLiveSession(session, core.cutoff(userId))) return false;
      core.sessionsOf(userId).set(sessionId, { ...session, authenticatedAt: Math.max(session.authenticatedAt ?? 0, at) });
      return true;
    },

    async endSession(userId: string, sessionId: string, revoke?: RevokedAccessToken): Promise<SessionRecord | null> {
      if (revoke && revoke.expiresAt > core.clock.now()) {
        core.revoked.set(`${userId}/${revoke.jti}`, revoke.expiresAt);
      }
      const session = core.session(userId, sessionId);
      core.sessionsOf(userId).delete(sessionId);
      return session && isLiveSession(session, core.cutoff(userId)) ? session : null;
    },

    async revokeAccessTokens(userId: string, tokens: readonly RevokedAccessToken[]): Promise<void> {
      for (const { jti, expiresAt } of tokens) if (expiresAt > core.clock.now()) core.revoked.set(`${userId}/${jti}`, expiresAt);
    },

    async endAllSessions(userId: string): Promise<number> {
      core.cancelPendingEmailChange(userId);
      return core.endAll(userId);
    },

    async endOtherSessions(userId: string, keepSessionId: string): Promise<number> {
      return core.endOthers(userId, keepSessionId);
    },

    async listSessions(userId: string): Promise<SessionRecord[]> {
      const cutoff = core.cutoff(userId);
      return [...core.sessionsOf(userId).keys()]
        .map((id) => core.session(userId, id))
        .filter((session): session is SessionRecord => isLiveSession(session, cutoff) && session.pending !== true)
        .sort((a, b) => b.createdAt - a.createdAt);
    },

    accessStates(checks: readonly AccessCheck[]): Promise<AccessState[]> {
      return Promise.all(checks.map(({ userId, sessionId, jti }) => accessState(userId, sessionId, jti)));
    },
  };
}
