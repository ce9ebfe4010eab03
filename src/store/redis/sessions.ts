import { keys } from "@revocable-auth/verifier/internal";
import { Cluster } from "ioredis";
import { isLiveSession, type AccessCheck, type AccessState, type BoundAccessState, type CreateSessionResult, type NewSession, type PendingLimits, type RevokedAccessToken, type RotateRequest, type RotateResult, type SessionRecord, type SessionStore, type StepUpRequest, type StepUpResult, type UserRecord } from "../store";
import { accessLineKeys, decodeAccessLine } from "./access-line";
import { parseJson, toNumber, type RedisCore } from "./core";

/** Sessions and revocation, and the per-request read: all on the user's slot. */
export function redisSessions(core: RedisCore): SessionStore {
  return {
    createSession(session: NewSession, maxPerUser?: number, pending?: PendingLimits): Promise<CreateSessionResult> {
      return core.guard(async () => {
        // Not waited on: the cap's ending of the oldest session is housekeeping, not a revocation
        // anyone relies on, and logins stay free of replica round trips (docs/operations.md).
        const { passwordHash = "", ...record } = session;
        const sessionKeys = [...core.sessionKeys(session.userId, session.id), keys.password(session.userId), keys.passkeys(session.userId)];
        const [status, raw, ...evicted] = await core.script("createSession", sessionKeys, [
          JSON.stringify(record),
          maxPerUser ?? "",
          passwordHash,
          session.passkeyId ?? "",
          pending?.expiresAt ?? "",
          pending?.maxPerUser ?? "",
        ]);
        if (status === "created") return { status, session: JSON.parse(raw) as SessionRecord, evicted: evicted as string[] };
        return { status: status as "user_missing" | "user_disabled" | "credentials_changed" };
      });
    },

    rotateSession(request: RotateRequest): Promise<RotateResult> {
      return core.guard(async () => {
        const { userId, sessionId, presentedJti, nextJti, nextExpiresAt, nextIssuedAt, graceMs, proof } = request;
        // Without a proof the fifth key names no jti and the script leaves it alone; it is there so the count is fixed.
        const scriptKeys = [...core.sessionKeys(userId, sessionId), keys.dpopProof(userId, proof?.jti ?? "")];
        const [status, session, user] = await core.script("rotateSession", scriptKeys, [
          sessionId,
          presentedJti,
          nextJti,
          nextExpiresAt,
          nextIssuedAt,
          graceMs,
          proof?.ttlSeconds ?? "",
        ]);
        if (status === "rotated" || status === "grace") {
          return { status, session: JSON.parse(session) as SessionRecord, user: JSON.parse(user) as UserRecord };
        }
        // Reuse ended the session: that end must survive a failover like any other.
        if (status === "reused") await core.confirmReplicated(keys.session(userId, sessionId));
        return { status: status as "reused" | "ended" | "proof_replayed" };
      });
    },

    stepUpSession(request: StepUpRequest): Promise<StepUpResult> {
      return core.guard(async () => {
        const { userId, sessionId, assurance, nextJti, nextExpiresAt, maxPerUser, authenticatedAt } = request;
        // Durable: the step-up retires the refresh tokens issued before it, as a revocation does.
        const [status, session, user, upgraded, ...evicted] = await core.durableScript("stepUpSession", core.sessionKeys(userId, sessionId), [
          sessionId,
          JSON.stringify(assurance),
          nextJti,
          nextExpiresAt,
          maxPerUser ?? "",
          authenticatedAt,
        ]);
        if (status !== "raised") return { status: "ended" };
        return {
          status,
          session: JSON.parse(session) as SessionRecord,
          user: JSON.parse(user) as UserRecord,
          upgraded: upgraded === "1",
          evicted: evicted as string[],
        };
      });
    },

    markSessionAuthenticated(userId: string, sessionId: string, at: number): Promise<boolean> {
      return core.guard(async () => (await core.script("markSessionAuthenticated", core.sessionKeys(userId, sessionId), [at])) === 1);
    },

    endSession(userId: string, sessionId: string, revoke?: RevokedAccessToken): Promise<SessionRecord | null> {
      return core.guard(async () => {
        const sessionKeys = [
          keys.session(userId, sessionId),
          keys.sessions(userId),
          keys.cutoff(userId),
          keys.revokedAccessToken(userId, revoke?.jti ?? ""),
        ];
        const ended = await core.durableScript("endSession", sessionKeys, [sessionId, revoke?.expiresAt ?? ""]);
        return typeof ended === "string" ? (JSON.parse(ended) as SessionRecord) : null;
      });
    },

    async revokeAccessTokens(userId: string, tokens: readonly RevokedAccessToken[]): Promise<void> {
      // Every key on the user's slot: one MULTI, pipelined with WAIT when replicas must have it.
      const live = tokens.filter(({ expiresAt }) => expiresAt > Date.now());
      if (live.length === 0) return;
      await core.guard(async () => {
        const multi = core.client.multi();
        for (const { jti, expiresAt } of live) multi.set(keys.revokedAccessToken(userId, jti), "1", "PXAT", expiresAt);
        await multi.exec();
        await core.confirmReplicated(keys.revokedAccessToken(userId, live[0]!.jti));
      });
    },

    endAllSessions(userId: string): Promise<number> {
      return core.guard(async () =>
        Number(await core.durableScript("endAllSessions", [keys.sessions(userId), keys.cutoff(userId), keys.mailToken(userId, "email_change")], [])),
      );
    },

    endOtherSessions(userId: string, keepSessionId: string): Promise<number> {
      return core.guard(async () => core.endOthers(userId, keepSessionId, ""));
    },

    listSessions(userId: string): Promise<SessionRecord[]> {
      return core.guard(async () => {
        const ids = await core.client.zrangebyscore(keys.sessions(userId), `(${Date.now()}`, "+inf");
        if (ids.length === 0) return [];
        const [cutoff, ...raws] = await core.client.mget(keys.cutoff(userId), ...ids.map((id) => keys.session(userId, id)));
        return raws
          .map((raw) => parseJson<SessionRecord>(raw))
          .filter((session): session is SessionRecord => isLiveSession(session, toNumber(cutoff)) && session.pending !== true)
          .sort((a, b) => b.createdAt - a.createdAt);
      });
    },

    accessState(userId: string, sessionId: string, jti: string): Promise<AccessState> {
      return core.guard(async () => {
        // The verifier's read (one MGET, one hash slot), with the compact access record for the JSON one.
        return readAccessState(userId, await core.client.mget(...accessLineKeys(userId, sessionId, jti)));
      });
    },

    boundAccessState(userId: string, sessionId: string, jti: string, proofJti: string, ttlSeconds: number): Promise<BoundAccessState> {
      return core.guard(async () => {
        // The verifier package's script and proof key: a proof used here is refused at every verifier too.
        const [line, session, cutoff, revoked, fresh] = (await core.script("boundAccessState", [...accessLineKeys(userId, sessionId, jti), keys.dpopProof(userId, proofJti)], [ttlSeconds])) as [
          string | null, string | null, string | null, string | null, number,
        ];
        return { ...(await readAccessState(userId, [line, session, cutoff, revoked])), proofReplayed: fresh !== 1 };
      });
    },

    accessStates(checks: readonly AccessCheck[]): Promise<AccessState[]> {
      return core.guard(async () => {
        if (checks.length === 0) return [];
        const reads = checks.map(({ userId, sessionId, jti }) => accessLineKeys(userId, sessionId, jti));
        let replies: (string | null)[][];
        if (core.client instanceof Cluster) {
          // A cluster pipeline must stay on one node; sent together, the MGETs still cost one round trip in time.
          replies = await Promise.all(reads.map((keyList) => core.client.mget(...keyList)));
        } else {
          const pipeline = core.client.pipeline();
          for (const keyList of reads) pipeline.mget(...keyList);
          replies = (await core.execPipeline(pipeline)) as (string | null)[][];
        }
        return Promise.all(replies.map((reply, i) => readAccessState(checks[i]!.userId, reply)));
      });
    },
  };

  /**
   * The MGET's answer as the port's AccessState. No access record: a user written before it existed
   * (an upgrade in place) has it made from the JSON record, once, at the cost of one more command;
   * a user who does not exist costs that command too, and stays missing.
   */
  function readAccessState(userId: string, reply: readonly (string | null)[]): AccessState | Promise<AccessState> {
    const [line, session, cutoff, revoked] = reply;
    if (line == null) {
      return core.script("migrateAccessRecord", [keys.user(userId), keys.accessRecord(userId)], []).then((made: string | null) => readAccessState(userId, [made ?? "", session ?? null, cutoff ?? null, revoked ?? null]));
    }
    return {
      // "" after a migration that found no user: decodes to null, as a missing user.
      user: decodeAccessLine(userId, line),
      session: parseJson<SessionRecord>(session ?? null),
      cutoff: toNumber(cutoff ?? null),
      accessTokenRevoked: revoked != null,
    };
  }
}
