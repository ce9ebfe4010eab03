import { Cluster, ReplyError } from "ioredis";
import type { Logger } from "pino";
import { RateLimiterRedis } from "rate-limiter-flexible";
import { accessStateKeys, keys, parseAccessState } from "@revocable-auth/verifier";
import type { RedisConfig } from "../../config";
import { storeRefused, storeUnavailable } from "../../errors";
import { FlexibleLimiter, type Limiter, type LimiterSpec } from "../limiter";
import type {
  AccessCheck,
  AccessChange,
  AccessChangeResult,
  AccessState,
  AuditEntry,
  AuditRead,
  AuditRecord,
  AuditRetention,
  AuditTail,
  AcceptStepResult,
  UserAuditStream,
  EnableTotpRequest,
  EnableTotpResult,
  AddPasskeyResult,
  CreateSessionResult,
  Credentials,
  EmailChangeCancelResult,
  EmailChangeResult,
  MailTokenPurpose,
  MailTokenRecord,
  NewSession,
  PasskeyRecord,
  PendingLimits,
  RemovePasskeyResult,
  PresentedMailToken,
  RevokedAccessToken,
  RotateRequest,
  Role,
  RotateResult,
  SessionRecord,
  StepUpRequest,
  StepUpResult,
  Store,
  TotpRecord,
  UserPage,
  UserPageRequest,
  UserRecord,
  UsePasskeyResult,
  WebAuthnChallenge,
} from "../store";
import { compareAuditIds, isLiveSession, newestFirst } from "../store";
import { checkEvictionPolicy, checkPasswordNeeded, checkPersistence, connectWithin, createRedisClient, disconnectOnce, waitUntilConnected, type RedisClient } from "./connection";
import { scripts } from "./scripts";

export { CONNECTION_NAME } from "./connection";

/**
 * A new user's records expire unless the email claim commits within this time, so a register
 * that fails part-way leaves nothing behind for good.
 */
export const PENDING_USER_TTL_MS = 60_000;

/** Replies that mean Redis cannot serve right now (loading, failing over, full): an outage, 503. */
const UNAVAILABLE_REPLY = /^(LOADING|BUSY|MASTERDOWN|READONLY|CLUSTERDOWN|TRYAGAIN|NOREPLICAS|OOM)\b/;

/**
 * Redis answered with an error that retrying will not fix (a script error, WRONGTYPE): a fault
 * to fix, answered 500. Carries the reply's message only, never the command's arguments.
 */
export class StoreFaultError extends Error {
  constructor(message: string) {
    super(`Redis refused a command: ${message}`);
    this.name = "StoreFaultError";
  }
}

/** The longest an audit tail's XREAD blocks; its connection's command timeout is STORE_TIMEOUT_MS past it. */
export const AUDIT_TAIL_MAX_BLOCK_MS = 10_000;
/** An audit tail's connection may take this long to open (at least STORE_TIMEOUT_MS): a Cluster client first reads the slot map. */
const AUDIT_TAIL_CONNECT_MS = 5_000;

type ScriptName = keyof typeof scripts;
type ScriptArg = string | number;

export interface RedisStoreOptions {
  readonly redis: RedisConfig;
  /** How long start-up waits for Redis before giving up. */
  readonly connectWithinMs: number;
  /** Bound on connecting and on every call: past it the call fails instead of hanging. */
  readonly timeoutMs: number;
  readonly logger: Logger;
  /** REDIS_REQUIRE_AOF: refuse a Redis without append-only persistence (else warn). */
  readonly requireAof?: boolean;
}

/**
 * Opens a connection and waits until Redis answers (retrying, logging each failed attempt), then
 * refuses an evicting Redis, and one without append-only persistence when required, so start-up
 * fails loudly; warns about a password Redis does not need.
 */
export async function connectRedisStore(options: RedisStoreOptions): Promise<RedisStore> {
  const store = new RedisStore(options);
  await waitUntilConnected(store.client, options.redis, options.connectWithinMs, options.logger);
  try {
    await checkEvictionPolicy(store.client, options.logger);
    await checkPersistence(store.client, options.requireAof ?? false, options.logger);
    await checkPasswordNeeded(store.client, options.redis, options.logger);
  } catch (error) {
    await store.close();
    throw error;
  }
  return store;
}

export class RedisStore implements Store {
  /** Redis, Redis through Sentinel, or a Cluster: every call below works on any of them. */
  readonly client: RedisClient;
  private readonly redis: RedisClient;
  private readonly logger: Logger;
  private readonly timeoutMs: number;
  private readonly minReplicas: number;
  private readonly config: RedisConfig;
  private readonly tails = new Set<RedisAuditTail>();
  /** Tail connections not yet handed out: connecting, or making their first reads. */
  private readonly openingTails = new Set<RedisClient>();
  private closed = false;

  constructor(options: RedisStoreOptions) {
    this.config = options.redis;
    this.logger = options.logger;
    this.timeoutMs = options.timeoutMs;
    this.minReplicas = options.redis.minReplicas;
    this.redis = this.client = createRedisClient(options.redis, options.timeoutMs);
    for (const [name, script] of Object.entries(scripts)) this.redis.defineCommand(name, script);
    this.watchConnection();
  }

  async createUser(user: UserRecord, passwordHash: string): Promise<boolean> {
    return this.guard(async () => {
      const userKeys = [keys.user(user.id), keys.password(user.id)] as const;
      const created = await this.redis
        .multi()
        .set(userKeys[0], JSON.stringify(user), "PX", PENDING_USER_TTL_MS, "NX")
        .set(userKeys[1], passwordHash, "PX", PENDING_USER_TTL_MS)
        .exec();
      if (created?.[0]?.[1] !== "OK") return false;
      // The email claim is the commit point; until the records are kept they expire by themselves.
      const claimed =
        (await this.claimEmail(user)) || ((await this.releaseAbandonedClaim(user.email)) && (await this.claimEmail(user)));
      if (!claimed) {
        await this.redis.del(...userKeys);
        return false;
      }
      throwOnReplyErrors(await this.redis.multi().persist(userKeys[0]).persist(userKeys[1]).exec());
      return true;
    });
  }

  private async claimEmail(user: UserRecord): Promise<boolean> {
    return (await this.script("claimEmail", [keys.email(user.email), keys.users()], [user.id, String(user.createdAt)])) === 1;
  }

  /** A claim whose user record has expired (its register failed before keeping it) is freed once. */
  private async releaseAbandonedClaim(email: string): Promise<boolean> {
    const claimedBy = await this.redis.get(keys.email(email));
    if (claimedBy === null || (await this.redis.exists(keys.user(claimedBy))) === 1) return false;
    return (await this.script("releaseEmail", [keys.email(email), keys.users()], [claimedBy])) === 1;
  }

  /** Counters for throttling, on this same connection; each counter is one key. */
  limiter(spec: LimiterSpec): Limiter {
    return redisLimiter(this.redis, spec, (operation) => this.guard(operation));
  }

  findUserIdByEmail(email: string): Promise<string | null> {
    return this.guard(() => this.redis.get(keys.email(email)));
  }

  getUser(userId: string): Promise<UserRecord | null> {
    return this.guard(async () => parseJson<UserRecord>(await this.redis.get(keys.user(userId))));
  }

  getCredentials(userId: string): Promise<Credentials | null> {
    return this.guard(async () => {
      const [user, passwordHash] = await this.redis.mget(keys.user(userId), keys.password(userId));
      return user === null || passwordHash === null ? null : { user: JSON.parse(user) as UserRecord, passwordHash };
    });
  }

  listUsers({ first, after }: UserPageRequest): Promise<UserPage> {
    return this.guard(async () => {
      const [total, ids] = (await this.script("pageUsers", [keys.users()], [first, after?.createdAt ?? "", after?.id ?? ""])) as [number, string[]];
      // Each user's record lives in that user's slot: one GET each, sent together.
      const raws = await Promise.all(ids.slice(0, first).map((id) => this.redis.get(keys.user(id))));
      const users = raws.map((raw) => parseJson<UserRecord>(raw)).filter((user) => user !== null);
      return { users, hasNextPage: ids.length > first, totalCount: Number(total) };
    });
  }

  async setUserDisabled(userId: string, disabled: boolean): Promise<UserRecord | null> {
    const result = await this.changeAccess(userId, { disabled }, false);
    return result.status === "changed" ? result.user : null;
  }

  /**
   * Two steps on two slots: the {directory} script decides the change against every other one
   * (the LAST_ADMIN guard and the index, atomically), then the user's slot copies the decided
   * state unless a later one is there. Whatever the interleaving, once the calls have returned the
   * records equal the directory's states, which always hold an enabled admin. A call that fails
   * between the steps leaves the record behind until the next change of that user (a retry) copies it.
   */
  changeAccess(userId: string, change: AccessChange, keepAnAdmin: boolean): Promise<AccessChangeResult> {
    return this.guard(async () => {
      const current = parseJson<UserRecord>(await this.redis.get(keys.user(userId)));
      if (current === null) return { status: "user_missing" };
      const [status, state] = await this.durableScript(
        "decideAccess",
        [keys.access(), keys.enabledAdmins()],
        [userId, JSON.stringify({ roles: current.roles, disabled: current.disabled }), JSON.stringify(change), keepAnAdmin ? "1" : "0"],
      );
      if (status === "last_admin") return { status };
      const userKeys = [keys.user(userId), keys.sessions(userId), keys.cutoff(userId), keys.accessVersion(userId), keys.mailToken(userId, "email_change")];
      const user = parseJson<UserRecord>(await this.durableScript("applyAccess", userKeys, [state]));
      return user === null ? { status: "user_missing" } : { status: "changed", user };
    });
  }

  createSession(session: NewSession, maxPerUser?: number, pending?: PendingLimits): Promise<CreateSessionResult> {
    return this.guard(async () => {
      // Not waited on: the cap's ending of the oldest session is housekeeping, not a revocation
      // anyone relies on, and logins stay free of replica round trips (docs/operations.md).
      const { passwordHash = "", ...record } = session;
      const sessionKeys = [...this.sessionKeys(session.userId, session.id), keys.password(session.userId), keys.passkeys(session.userId)];
      const [status, raw, ...evicted] = await this.script("createSession", sessionKeys, [
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
  }

  rotateSession(request: RotateRequest): Promise<RotateResult> {
    return this.guard(async () => {
      const { userId, sessionId, presentedJti, nextJti, nextExpiresAt, nextIssuedAt, graceMs } = request;
      const [status, session, user] = await this.script("rotateSession", this.sessionKeys(userId, sessionId), [
        sessionId,
        presentedJti,
        nextJti,
        nextExpiresAt,
        nextIssuedAt,
        graceMs,
      ]);
      if (status === "rotated" || status === "grace") {
        return { status, session: JSON.parse(session) as SessionRecord, user: JSON.parse(user) as UserRecord };
      }
      // Reuse ended the session: that end must survive a failover like any other.
      if (status === "reused") await this.confirmReplicated(keys.session(userId, sessionId));
      return { status: status as "reused" | "ended" };
    });
  }

  stepUpSession(request: StepUpRequest): Promise<StepUpResult> {
    return this.guard(async () => {
      const { userId, sessionId, assurance, nextJti, nextExpiresAt, maxPerUser, authenticatedAt } = request;
      // Durable: the step-up retires the refresh tokens issued before it, as a revocation does.
      const [status, session, user, upgraded, ...evicted] = await this.durableScript("stepUpSession", this.sessionKeys(userId, sessionId), [
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
  }

  markSessionAuthenticated(userId: string, sessionId: string, at: number): Promise<boolean> {
    return this.guard(async () => (await this.script("markSessionAuthenticated", this.sessionKeys(userId, sessionId), [at])) === 1);
  }

  endSession(userId: string, sessionId: string, revoke?: RevokedAccessToken): Promise<SessionRecord | null> {
    return this.guard(async () => {
      const sessionKeys = [
        keys.session(userId, sessionId),
        keys.sessions(userId),
        keys.cutoff(userId),
        keys.revokedAccessToken(userId, revoke?.jti ?? ""),
      ];
      const ended = await this.durableScript("endSession", sessionKeys, [sessionId, revoke?.expiresAt ?? ""]);
      return typeof ended === "string" ? (JSON.parse(ended) as SessionRecord) : null;
    });
  }

  endAllSessions(userId: string): Promise<number> {
    return this.guard(async () =>
      Number(await this.durableScript("endAllSessions", [keys.sessions(userId), keys.cutoff(userId), keys.mailToken(userId, "email_change")], [])),
    );
  }

  endOtherSessions(userId: string, keepSessionId: string): Promise<number> {
    return this.guard(async () => this.endOthers(userId, keepSessionId, ""));
  }

  changePassword(userId: string, passwordHash: string, keepSessionId: string): Promise<boolean> {
    return this.guard(async () => (await this.endOthers(userId, keepSessionId, passwordHash)) >= 0);
  }

  async setUserRoles(userId: string, roles: readonly Role[]): Promise<UserRecord | null> {
    const result = await this.changeAccess(userId, { roles }, false);
    return result.status === "changed" ? result.user : null;
  }

  listSessions(userId: string): Promise<SessionRecord[]> {
    return this.guard(async () => {
      const ids = await this.redis.zrangebyscore(keys.sessions(userId), `(${Date.now()}`, "+inf");
      if (ids.length === 0) return [];
      const [cutoff, ...raws] = await this.redis.mget(keys.cutoff(userId), ...ids.map((id) => keys.session(userId, id)));
      return raws
        .map((raw) => parseJson<SessionRecord>(raw))
        .filter((session): session is SessionRecord => isLiveSession(session, toNumber(cutoff)) && session.pending !== true)
        .sort((a, b) => b.createdAt - a.createdAt);
    });
  }

  async saveTotpEnrolment(userId: string, sealedSecret: string, expiresAt: number): Promise<void> {
    await this.guard(() => this.redis.set(keys.totpEnrolment(userId), sealedSecret, "PXAT", expiresAt));
  }

  getTotpEnrolment(userId: string): Promise<string | null> {
    return this.guard(() => this.redis.get(keys.totpEnrolment(userId)));
  }

  enableTotp(request: EnableTotpRequest): Promise<EnableTotpResult> {
    const { userId } = request;
    const totpKeys = [keys.user(userId), keys.totpEnrolment(userId), keys.totp(userId), keys.totpFailures(userId), keys.recoveryCodes(userId)];
    return this.guard(() => this.durableScript("enableTotp", totpKeys, [request.sealedSecret, request.acceptedStep, ...request.recoveryCodeHashes]));
  }

  getTotp(userId: string): Promise<TotpRecord | null> {
    return this.guard(async () => {
      const [raw, failures] = await this.redis.mget(keys.totp(userId), keys.totpFailures(userId));
      const totp = parseJson<Omit<TotpRecord, "failures">>(raw ?? null);
      return totp && { sealedSecret: totp.sealedSecret, lastStep: Number(totp.lastStep), failures: Number(failures ?? 0) };
    });
  }

  acceptTotpStep(userId: string, step: number, lockAfter: number, resealed?: string): Promise<AcceptStepResult> {
    // Durable: a failover must not bring back a step already accepted (RFC 6238 §5.2).
    return this.guard(() => this.durableScript("acceptTotpStep", [keys.totp(userId), keys.totpFailures(userId)], [step, lockAfter, resealed ?? ""]));
  }

  recordTotpFailure(userId: string): Promise<number> {
    return this.guard(() => this.redis.incr(keys.totpFailures(userId)));
  }

  useRecoveryCode(userId: string, codeHash: string): Promise<number | null> {
    return this.guard(async () => {
      const left = Number(await this.durableScript("useRecoveryCode", [keys.recoveryCodes(userId), keys.totpFailures(userId)], [codeHash]));
      return left < 0 ? null : left;
    });
  }

  replaceRecoveryCodes(userId: string, codeHashes: readonly string[]): Promise<boolean> {
    return this.guard(async () => (await this.durableScript("replaceRecoveryCodes", [keys.user(userId), keys.recoveryCodes(userId)], [...codeHashes])) === 1);
  }

  disableMfa(userId: string): Promise<boolean> {
    const mfaKeys = [keys.user(userId), keys.totp(userId), keys.totpEnrolment(userId), keys.totpFailures(userId), keys.recoveryCodes(userId)];
    return this.guard(async () => (await this.durableScript("disableMfa", mfaKeys, [])) === 1);
  }

  /**
   * Two ordered steps, as registering a user: the directory claim on the credential id first (so
   * no two users can hold one id), then the user's own record; a failed second step frees the claim.
   */
  addPasskey(passkey: PasskeyRecord, max: number): Promise<AddPasskeyResult> {
    return this.guard(async () => {
      const owner = keys.passkeyOwner(passkey.id);
      const claimed = (await this.redis.set(owner, passkey.userId, "NX")) === "OK";
      if (!claimed && (await this.redis.get(owner)) !== passkey.userId) return "taken";
      const result = (await this.script("addPasskey", [keys.user(passkey.userId), keys.passkeys(passkey.userId)], [
        passkey.id,
        JSON.stringify(passkey),
        max,
      ])) as AddPasskeyResult;
      if (result !== "added" && claimed) await this.script("releaseClaim", [owner], [passkey.userId]);
      return result;
    });
  }

  passkeyOwner(credentialId: string): Promise<string | null> {
    return this.guard(() => this.redis.get(keys.passkeyOwner(credentialId)));
  }

  getPasskey(userId: string, credentialId: string): Promise<PasskeyRecord | null> {
    return this.guard(async () => parsePasskey(await this.redis.hget(keys.passkeys(userId), credentialId)));
  }

  listPasskeys(userId: string): Promise<PasskeyRecord[]> {
    return this.guard(async () => {
      const raws = Object.values(await this.redis.hgetall(keys.passkeys(userId)));
      return raws.map((raw) => parsePasskey(raw)!).sort((a, b) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : 1));
    });
  }

  renamePasskey(userId: string, credentialId: string, name: string): Promise<PasskeyRecord | null> {
    return this.guard(async () => parsePasskey(await this.script("renamePasskey", [keys.passkeys(userId)], [credentialId, name])));
  }

  usePasskey(userId: string, credentialId: string, counter: number): Promise<UsePasskeyResult> {
    return this.guard(async () => {
      const [status, raw] = (await this.script("usePasskey", [keys.passkeys(userId)], [credentialId, counter])) as [string, string?];
      if (status === "missing") return { status };
      return { status: status as "used" | "counter_regressed", passkey: parsePasskey(raw ?? null)! };
    });
  }

  removePasskey(userId: string, credentialId: string): Promise<RemovePasskeyResult> {
    return this.guard(async () => {
      const scriptKeys = [keys.passkeys(userId), keys.sessions(userId), keys.cutoff(userId), keys.password(userId), keys.session(userId, "")];
      // Durable: it ends sessions, as any revocation.
      const [status, ...sessionIds] = (await this.durableScript("removePasskey", scriptKeys, [credentialId])) as [string, ...string[]];
      if (status !== "removed") return { status: status as "missing" | "last_way_in" };
      await this.script("releaseClaim", [keys.passkeyOwner(credentialId)], [userId]);
      return { status, ended: sessionIds.length, sessionIds };
    });
  }

  async saveChallenge(id: string, challenge: WebAuthnChallenge, ttlMs: number): Promise<void> {
    await this.guard(() => this.redis.set(keys.webauthnChallenge(id), JSON.stringify(challenge), "PX", ttlMs));
  }

  takeChallenge(id: string): Promise<WebAuthnChallenge | null> {
    return this.guard(async () => parseJson<WebAuthnChallenge>(await this.script("takeChallenge", [keys.webauthnChallenge(id)], [])));
  }

  accessState(userId: string, sessionId: string, jti: string): Promise<AccessState> {
    return this.guard(async () => {
      // The same read as every verifier's, from the package: one MGET, one hash slot.
      return parseAccessState<UserRecord, SessionRecord>(await this.redis.mget(...accessStateKeys(userId, sessionId, jti)));
    });
  }

  accessStates(checks: readonly AccessCheck[]): Promise<AccessState[]> {
    return this.guard(async () => {
      if (checks.length === 0) return [];
      const reads = checks.map(({ userId, sessionId, jti }) => accessStateKeys(userId, sessionId, jti));
      let replies: (string | null)[][];
      if (this.redis instanceof Cluster) {
        // A cluster pipeline must stay on one node; sent together, the MGETs still cost one round trip in time.
        replies = await Promise.all(reads.map((keyList) => this.redis.mget(...keyList)));
      } else {
        const pipeline = this.redis.pipeline();
        for (const keyList of reads) pipeline.mget(...keyList);
        replies = (await this.execPipeline(pipeline)) as (string | null)[][];
      }
      return replies.map((reply) => parseAccessState<UserRecord, SessionRecord>(reply));
    });
  }

  async appendAuditEvent(entry: AuditEntry, retention: AuditRetention, userStream: UserAuditStream = "history"): Promise<void> {
    await this.guard(async () => {
      const fields = auditFields(entry);
      // Two scripts on two slots, sent together: neither waits for the other.
      const ttl = Math.max(1, Math.round(retention.maxAgeMs));
      await Promise.all([
        this.script("appendAuditEvent", [keys.auditAll()], [retention.maxGlobal, ttl, ...fields]),
        entry.userId === null ? null : this.script("appendUserAuditEvent", userStreamKeys(entry.userId, userStream), [retention.maxPerUser, ttl, ...fields]),
      ]);
    });
  }

  readAuditEvents({ userId, before, from, to, count }: AuditRead): Promise<AuditRecord[]> {
    return this.guard(async () => {
      let end = to === null ? "+" : `${to}-${Number.MAX_SAFE_INTEGER}`;
      if (before !== null && (end === "+" || compareAuditIds(before, end) <= 0)) end = `(${before}`;
      const start = from === null ? "-" : `${from}-0`;
      const read = async (key: string, stream: "user" | "global") => {
        const entries = (await this.redis.xrevrange(key, end, start, "COUNT", count)) as [string, string[]][];
        return entries.map(([id, fields]) => parseAuditEntry(id, fields, stream));
      };
      if (userId === null) return read(keys.auditAll(), "global");
      // Both on the user's slot, sent together; their ids never coincide (appendUserAuditEvent).
      const [history, attempts] = await Promise.all([read(keys.auditEvents(userId), "user"), read(keys.auditAttempts(userId), "user")]);
      return newestFirst(history, attempts, count);
    });
  }

  async openAuditTail(): Promise<AuditTail> {
    if (this.closed) throw storeUnavailable();
    // A connection of its own: a blocked XREAD would hold up every command queued behind it.
    const client = createRedisClient(this.config, this.timeoutMs, { blockingMs: AUDIT_TAIL_MAX_BLOCK_MS });
    client.on("error", (error: Error) => this.logger.debug({ err: { name: error.name, message: error.message } }, "audit tail connection error"));
    // Until it is a tail, close() finds it here: a connection still opening must not outlive the store.
    this.openingTails.add(client);
    try {
      await connectWithin(client, Math.max(this.timeoutMs, AUDIT_TAIL_CONNECT_MS));
      const [newest] = (await client.xrevrange(keys.auditAll(), "+", "-", "COUNT", 1)) as [string, string[]][];
      const last = newest?.[0] ?? "0-0";
      // One read that does not block, before the tail's first blocking one: a Redis user without
      // XREAD is refused here, where the subscriber and the log are told, not at every read after.
      await client.call("xread", "COUNT", 1, "STREAMS", keys.auditAll(), last);
      const tail = new RedisAuditTail(client, last, () => this.tails.delete(tail));
      this.tails.add(tail);
      return tail;
    } catch (error) {
      disconnectOnce(client);
      // Closed under it: shutting down, nothing to report.
      if (this.closed) throw storeUnavailable();
      const { name, message } = error instanceof Error ? error : { name: "Error", message: String(error) };
      const refused = /NOPERM/.test(message) ? tailAclRule(message) : null;
      this.logger.error({ err: { name, message } }, refused ?? "could not open a tail of the audit trail");
      throw refused ? storeRefused(refused) : storeUnavailable();
    } finally {
      this.openingTails.delete(client);
    }
  }

  async publishKeySetVersion(version: string): Promise<void> {
    await this.guard(() => this.redis.set(keys.keySet(), version));
  }

  keySetVersion(): Promise<string | null> {
    return this.guard(() => this.redis.get(keys.keySet()));
  }

  async putMailToken(userId: string, purpose: MailTokenPurpose, token: MailTokenRecord): Promise<void> {
    // Expires on its own too; the scripts compare expiresAt with the API's clock, the way tests move it.
    await this.guard(() => this.redis.set(keys.mailToken(userId, purpose), JSON.stringify(token), "PXAT", Math.max(token.expiresAt, Date.now() + 1000)));
  }

  readMailToken(userId: string, purpose: MailTokenPurpose, now: number): Promise<MailTokenRecord | null> {
    return this.guard(async () => {
      const record = parseJson<MailTokenRecord>(await this.redis.get(keys.mailToken(userId, purpose)));
      return record && record.expiresAt > now ? record : null;
    });
  }

  mailTokenMatches(token: PresentedMailToken, purpose: MailTokenPurpose): Promise<boolean> {
    return this.guard(async () => {
      const record = parseJson<MailTokenRecord>(await this.redis.get(keys.mailToken(token.userId, purpose)));
      return record !== null && record.hash === token.hash && record.expiresAt > token.now;
    });
  }

  takeMailToken(token: PresentedMailToken, purpose: MailTokenPurpose): Promise<MailTokenRecord | null> {
    return this.guard(async () => parseJson<MailTokenRecord>(await this.script("takeMailToken", [keys.mailToken(token.userId, purpose)], [token.hash, token.now])));
  }

  resetPassword(token: PresentedMailToken, passwordHash: string): Promise<UserRecord | null> {
    return this.guard(async () => {
      const { userId } = token;
      const scriptKeys = [keys.mailToken(userId, "password_reset"), keys.password(userId), keys.user(userId), keys.sessions(userId), keys.cutoff(userId), keys.mailToken(userId, "email_change")];
      return parseJson<UserRecord>(await this.durableScript("resetPassword", scriptKeys, [token.hash, token.now, passwordHash]));
    });
  }

  verifyEmail(token: PresentedMailToken): Promise<UserRecord | null> {
    return this.guard(async () => {
      const scriptKeys = [keys.mailToken(token.userId, "email_verification"), keys.user(token.userId)];
      return parseJson<UserRecord>(await this.script("verifyEmail", scriptKeys, [token.hash, token.now]));
    });
  }

  /**
   * Three steps, since the directory and the user live in two slots: read the token, the record and
   * the session that asked, claim the new address on {directory}, then one script on the user's
   * slot checks again, consumes the token and switches the record. When that script does not take
   * the change, the claim is given back.
   */
  changeEmail(token: PresentedMailToken): Promise<EmailChangeResult> {
    return this.guard(async () => {
      const { userId } = token;
      const tokenKey = keys.mailToken(userId, "email_change");
      const read = await this.readLiveMailToken(token, tokenKey);
      if (!read) return { status: "invalid" };
      const { record, user } = read;
      const asking = record.sessionId;
      if (user.disabled || asking === undefined || !(await this.isLive(userId, asking))) {
        await this.redis.del(tokenKey);
        return { status: "invalid" };
      }
      if (!(await this.claimAddress(userId, record.email))) {
        await this.redis.del(tokenKey);
        return { status: "taken" };
      }
      const scriptKeys = [tokenKey, keys.user(userId), keys.sessions(userId), keys.cutoff(userId), keys.session(userId, asking)];
      const [status, raw, ended] = await this.durableScript("applyEmailChange", scriptKeys, [token.hash, token.now, asking]);
      // Either way one of the two claims is now held for nothing: the old address after the move,
      // the new one when the script did not take it (the token is spent then, so no later call can).
      await this.releaseUnheldClaim(userId, status === "changed" ? user.email : record.email);
      if (status === "changed") return { status, user: JSON.parse(raw) as UserRecord, ended: Number(ended), keptSessionId: asking };
      return { status: "invalid" };
    });
  }

  /**
   * As changeEmail, the other way. Decided on the address read first; the script answers 'retry'
   * (spending nothing) when a confirmation moved the account in between, and it is decided again.
   */
  cancelEmailChange(token: PresentedMailToken): Promise<EmailChangeCancelResult> {
    return this.guard(async () => {
      const { userId } = token;
      const tokenKey = keys.mailToken(userId, "email_change_cancel");
      for (let attempt = 0; attempt < CANCEL_ATTEMPTS; attempt++) {
        const read = await this.readLiveMailToken(token, tokenKey);
        if (!read) return { status: "invalid" };
        const { record, user } = read;
        const moveBack = user.email !== record.email && (await this.claimAddress(userId, record.email));
        const scriptKeys = [tokenKey, keys.user(userId), keys.sessions(userId), keys.cutoff(userId), keys.mailToken(userId, "email_change"), keys.password(userId)];
        const [status, raw, ended, reverted] = await this.durableScript("cancelEmailChange", scriptKeys, [
          token.hash,
          token.now,
          moveBack ? record.email : "",
          user.email,
        ]);
        if (moveBack) await this.releaseUnheldClaim(userId, reverted === 1 ? user.email : record.email);
        if (status === "retry") continue;
        if (status !== "cancelled") return { status: "invalid" };
        return { status, user: JSON.parse(raw) as UserRecord, ended: Number(ended), reverted: reverted === 1 };
      }
      // Confirmations kept moving the account under it: refuse this one, its link still works.
      throw storeUnavailable();
    });
  }

  /** The token at `tokenKey` and its user, read in one MGET, when the token matches and is live; reads only. */
  private async readLiveMailToken(token: PresentedMailToken, tokenKey: string): Promise<{ record: MailTokenRecord; user: UserRecord } | null> {
    const [rawToken, rawUser] = await this.redis.mget(tokenKey, keys.user(token.userId));
    const record = parseJson<MailTokenRecord>(rawToken);
    const user = parseJson<UserRecord>(rawUser);
    return record && user && record.hash === token.hash && record.expiresAt > token.now ? { record, user } : null;
  }

  /** Claims `email` on the directory for the user, freeing nothing; false when another account holds it. */
  private async claimAddress(userId: string, email: string): Promise<boolean> {
    return (await this.script("claimAddress", [keys.email(email)], [userId])) === 1;
  }

  /**
   * Frees the user's claim on `email` unless the record holds that address. Called after the
   * user's script has run, so a move between the read and the release is one that script made.
   */
  private async releaseUnheldClaim(userId: string, email: string): Promise<void> {
    const now = parseJson<UserRecord>(await this.redis.get(keys.user(userId)));
    if (now?.email !== email) await this.script("releaseClaim", [keys.email(email)], [userId]);
  }

  private async isLive(userId: string, sessionId: string): Promise<boolean> {
    const [session, cutoff] = await this.redis.mget(keys.session(userId, sessionId), keys.cutoff(userId));
    return isLiveSession(parseJson<SessionRecord>(session), toNumber(cutoff));
  }

  /** Ready when Redis answers; for a Cluster, when it says every slot is served (cluster_state:ok). */
  async ping(): Promise<void> {
    await this.guard(async () => {
      if (!(this.redis instanceof Cluster)) return void (await this.redis.ping());
      const info = String(await this.redis.call("CLUSTER", "INFO"));
      if (!info.includes("cluster_state:ok")) throw new Error("the cluster does not serve every slot");
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const client of this.openingTails) disconnectOnce(client);
    for (const tail of [...this.tails]) tail.close();
    disconnectOnce(this.redis);
  }

  /**
   * Two steps: read the user's session ids, then one script over exactly those keys (a script
   * names every key it touches, so it stays valid on a cluster). A session started between the
   * two steps began after the call and is kept, as if it had started just after it.
   */
  private async endOthers(userId: string, keepSessionId: string, passwordHash: string): Promise<number> {
    const others = (await this.redis.zrange(keys.sessions(userId), "0", "-1")).filter((id) => id !== keepSessionId);
    const scriptKeys = [
      keys.sessions(userId),
      keys.cutoff(userId),
      keys.password(userId),
      keys.session(userId, keepSessionId),
      keys.mailToken(userId, "email_change"),
      ...others.map((id) => keys.session(userId, id)),
    ];
    return Number(await this.durableScript("endOtherSessions", [String(scriptKeys.length), ...scriptKeys], [keepSessionId, passwordHash, ...others]));
  }

  private sessionKeys(userId: string, sessionId: string): string[] {
    return [keys.user(userId), keys.session(userId, sessionId), keys.sessions(userId), keys.cutoff(userId)];
  }

  private script(name: ScriptName, scriptKeys: string[], args: ScriptArg[]): Promise<any> {
    const command = (this.redis as unknown as Record<ScriptName, (...a: ScriptArg[]) => Promise<unknown>>)[name];
    return command.call(this.redis, ...scriptKeys, ...args);
  }

  /**
   * A write that revokes or ends something. With REDIS_MIN_REPLICAS > 0 it is pipelined with WAIT
   * on the same connection, so it reaches the node that ran the script (in a Cluster, the master
   * of the keys' slot), and it counts as done only once that many replicas have it: a failover
   * right after cannot bring the revoked token back. Short of it, the caller gets 503.
   */
  private async durableScript(name: ScriptName, scriptKeys: string[], args: ScriptArg[]): Promise<any> {
    if (this.minReplicas === 0) return this.script(name, scriptKeys, args);
    const pipeline = this.redis.pipeline();
    (pipeline as unknown as Record<ScriptName, (...a: ScriptArg[]) => unknown>)[name]!.call(pipeline, ...scriptKeys, ...args);
    pipeline.call("WAIT", this.minReplicas, this.waitMs());
    const [written, waited] = await this.execPipeline(pipeline);
    this.checkReplicas(waited);
    return written;
  }

  /** WAIT after a write already made, routed to the node of `slotKey` by pipelining it with a read there. */
  private async confirmReplicated(slotKey: string): Promise<void> {
    if (this.minReplicas === 0) return;
    const pipeline = this.redis.pipeline().pttl(slotKey).call("WAIT", this.minReplicas, this.waitMs());
    const [, waited] = await this.execPipeline(pipeline);
    this.checkReplicas(waited);
  }

  private async execPipeline(pipeline: ReturnType<RedisClient["pipeline"]>): Promise<unknown[]> {
    const results = (await pipeline.exec()) ?? [];
    for (const [error] of results) if (error) throw error;
    return results.map(([, value]) => value);
  }

  private checkReplicas(acknowledged: unknown): void {
    if (Number(acknowledged) < this.minReplicas) {
      throw new Error(`only ${Number(acknowledged)} of REDIS_MIN_REPLICAS=${this.minReplicas} replicas acknowledged the write in time`);
    }
  }

  /** WAIT's own bound, inside STORE_TIMEOUT_MS so its answer (not the command timeout) says why. Never 0: that waits forever. */
  private waitMs(): number {
    return Math.max(10, Math.floor(this.timeoutMs * 0.8));
  }

  /**
   * Fail closed: a Redis outage becomes SERVICE_UNAVAILABLE for the caller; an error reply that
   * retrying will not fix becomes a StoreFaultError (500). Both are logged here.
   * The deadline bounds the whole call, retries a Cluster makes during a failover included.
   */
  /**
   * Every call, bounded by STORE_TIMEOUT_MS as a whole (a script, or a cluster command waiting out
   * a failover, may take several round trips) and its failure mapped to a typed error. One
   * promise and one timer: it runs on every request, where an async function racing a second
   * promise cost a microsecond more, and two more microtask turns.
   */
  private guard<T>(operation: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      let settled = false;
      const fail = (error: unknown) => {
        if (settled) return; // an answer after the deadline: already reported
        settled = true;
        clearTimeout(timer);
        reject(this.fault(error));
      };
      const timer = setTimeout(() => fail(new Error(`no answer within STORE_TIMEOUT_MS=${this.timeoutMs}`)), this.timeoutMs);
      let attempt: Promise<T>;
      try {
        attempt = operation();
      } catch (error) {
        return fail(error);
      }
      attempt.then((value) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(value);
      }, fail);
    });
  }

  /** A failed call as the error callers see: a fault Redis refused, or the store unavailable. */
  private fault(error: unknown): Error {
    // Name and message only: ioredis errors can carry the command's arguments (a password hash).
    const { name, message } = error instanceof Error ? error : { name: "Error", message: String(error) };
    if (error instanceof ReplyError && !UNAVAILABLE_REPLY.test(message)) {
      this.logger.error({ err: { name, message } }, "store call refused by Redis");
      return new StoreFaultError(message);
    }
    this.logger.error({ err: { name, message } }, "store call failed");
    return storeUnavailable();
  }

  private watchConnection(): void {
    let healthy = false;
    this.redis.on("ready", () => {
      healthy = true;
      this.logger.info("connected to Redis");
    });
    this.redis.on("error", (error: Error) => {
      if (!healthy) return;
      healthy = false;
      this.logger.error({ err: { name: error.name, message: error.message } }, "lost connection to Redis; retrying");
    });
  }
}

/**
 * A throttling limiter on an ioredis client: a single connection or a Cluster (each counter is one
 * key, so one slot). Refuses at once, rather than queueing, while the client is not ready.
 */
export function redisLimiter(
  client: RedisClient,
  spec: LimiterSpec,
  guard?: ConstructorParameters<typeof FlexibleLimiter>[1],
): Limiter {
  const limiter = new RateLimiterRedis({
    storeClient: client,
    keyPrefix: keys.throttle(spec.name),
    points: spec.points,
    duration: spec.windowSeconds,
    rejectIfRedisNotReady: true,
  });
  return new FlexibleLimiter(limiter, guard);
}

/** A MULTI's replies carry their errors instead of throwing them. */
function throwOnReplyErrors(replies: [Error | null, unknown][] | null): void {
  const failed = replies?.find(([error]) => error !== null);
  if (failed) throw failed[0];
  if (replies === null) throw new Error("MULTI was aborted");
}

function parseJson<T>(raw: string | null): T | null {
  return raw === null ? null : (JSON.parse(raw) as T);
}

/** Lua's cjson writes an empty list as {}: read transports back as a list whatever it holds. */
function parsePasskey(raw: string | null): PasskeyRecord | null {
  const passkey = parseJson<PasskeyRecord>(raw);
  if (passkey === null) return null;
  return { ...passkey, transports: Array.isArray(passkey.transports) ? passkey.transports : [] };
}

/** What a tail refused by the Redis ACL (NOPERM) needs granted, as the live channel names its own rule. */
function tailAclRule(reply: string): string {
  const stream = keys.auditAll();
  const rule = /'xread' command/.test(reply) ? "+xread" : `~${stream}`;
  const what = rule === "+xread" ? `run XREAD on ${stream}` : `read ${stream}`;
  return `the Redis user may not ${what}, which live auditEvents subscriptions tail: grant it with ACL SETUSER <user> ${rule} (see docs/live.md)`;
}

/**
 * XREAD BLOCK from the last id read, on the tail's own connection: the global stream is one key,
 * so on a Cluster the read goes to the master of its slot, and after a failover ioredis finds the
 * new one. The position survives errors: a read after a reconnect goes on where the last stopped.
 */
class RedisAuditTail implements AuditTail {
  private closed = false;

  constructor(
    private readonly client: RedisClient,
    private last: string,
    private readonly onClose: () => void,
  ) {}

  async read(blockMs: number, count: number): Promise<AuditRecord[]> {
    if (this.closed) return [];
    const block = blockMs > 0 ? ["BLOCK", Math.min(blockMs, AUDIT_TAIL_MAX_BLOCK_MS)] : [];
    let reply: [string, [string, string[]][]][] | null;
    try {
      // Lower case, so ioredis' stream-read transformer applies: under RESP3 the reply comes in RESP2's shape.
      reply = (await this.client.call("xread", "COUNT", count, ...block, "STREAMS", keys.auditAll(), this.last)) as typeof reply;
    } catch (error) {
      if (this.closed) return [];
      throw error;
    }
    if (this.closed || !reply?.[0]) return [];
    const records = reply[0][1].map(([id, fields]) => parseAuditEntry(id, fields, "global"));
    if (records.length > 0) this.last = records.at(-1)!.id;
    return records;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.onClose();
    disconnectOnce(this.client);
  }
}

/** How often a "this was not me" is decided again when confirmations keep moving the account meanwhile. */
const CANCEL_ATTEMPTS = 3;

function toNumber(raw: string | null): number | null {
  return raw === null ? null : Number(raw);
}

/** Short field names, and only the fields that are set: each byte is kept for every event. */
function auditFields(entry: AuditEntry): string[] {
  const fields: string[] = ["e", entry.eventId, "t", entry.type];
  const optional: [string, string | null][] = [
    ["a", entry.actorId],
    ["u", entry.userId],
    ["s", entry.sessionId],
    ["ip", entry.clientIp],
    ["ua", entry.userAgent],
    ["d", entry.device],
    ["x", Object.keys(entry.details).length > 0 ? JSON.stringify(entry.details) : null],
  ];
  for (const [name, value] of optional) if (value !== null) fields.push(name, value);
  return fields;
}

/** The stream an event goes to first, then the user's other stream (whose last id it must stay above). */
function userStreamKeys(userId: string, stream: UserAuditStream): [string, string] {
  const history = keys.auditEvents(userId);
  const attempts = keys.auditAttempts(userId);
  return stream === "history" ? [history, attempts] : [attempts, history];
}

function parseAuditEntry(id: string, fields: string[], stream: "user" | "global"): AuditRecord {
  const map = new Map<string, string>();
  for (let i = 0; i + 1 < fields.length; i += 2) map.set(fields[i]!, fields[i + 1]!);
  const field = (name: string) => map.get(name) ?? null;
  return {
    id,
    at: Number(id.split("-")[0]),
    // An entry written before events had ids (or by an older instance during a rolling upgrade):
    // its place in the stream read, marked with the stream, so it is unique but never matches
    // the same event read from the other stream, nor another event's id there.
    eventId: field("e") ?? `${stream}-${id}`,
    type: field("t") ?? "UNKNOWN",
    actorId: field("a"),
    userId: field("u"),
    sessionId: field("s"),
    clientIp: field("ip"),
    userAgent: field("ua"),
    device: field("d"),
    details: parseJson<Record<string, unknown>>(field("x")) ?? {},
  };
}
