import { Cluster, ReplyError } from "ioredis";
import type { Logger } from "pino";
import { RateLimiterRedis } from "rate-limiter-flexible";
import { accessStateKeys, keys, parseAccessState } from "@revocable-auth/verifier";
import type { RedisConfig } from "../../config";
import { storeUnavailable } from "../../errors";
import { FlexibleLimiter, type Limiter, type LimiterSpec } from "../limiter";
import type {
  AccessCheck,
  AccessState,
  CreateSessionResult,
  Credentials,
  NewSession,
  RevokedAccessToken,
  RotateRequest,
  Role,
  RotateResult,
  SessionRecord,
  Store,
  UserPage,
  UserPageRequest,
  UserRecord,
} from "../store";
import { isLiveSession } from "../store";
import { checkEvictionPolicy, createRedisClient, waitUntilConnected, type RedisClient } from "./connection";
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

type ScriptName = keyof typeof scripts;
type ScriptArg = string | number;

export interface RedisStoreOptions {
  readonly redis: RedisConfig;
  /** How long start-up waits for Redis before giving up. */
  readonly connectWithinMs: number;
  /** Bound on connecting and on every call: past it the call fails instead of hanging. */
  readonly timeoutMs: number;
  readonly logger: Logger;
}

/**
 * Opens a connection and waits until Redis answers (retrying, logging each failed attempt), then
 * refuses an evicting Redis, so start-up fails loudly.
 */
export async function connectRedisStore(options: RedisStoreOptions): Promise<RedisStore> {
  const store = new RedisStore(options);
  await waitUntilConnected(store.client, options.redis, options.connectWithinMs, options.logger);
  try {
    await checkEvictionPolicy(store.client, options.logger);
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

  constructor(options: RedisStoreOptions) {
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

  setUserDisabled(userId: string, disabled: boolean): Promise<UserRecord | null> {
    return this.guard(async () => {
      const userKeys = [keys.user(userId), keys.sessions(userId), keys.cutoff(userId)];
      return parseJson<UserRecord>(await this.durableScript("setUserDisabled", userKeys, [disabled ? "1" : "0"]));
    });
  }

  createSession(session: NewSession, maxPerUser?: number): Promise<CreateSessionResult> {
    return this.guard(async () => {
      // Not waited on: the cap's ending of the oldest session is housekeeping, not a revocation
      // anyone relies on, and logins stay free of replica round trips (docs/operations.md).
      const { passwordHash = "", ...record } = session;
      const [status, raw, ...evicted] = await this.script("createSession", [...this.sessionKeys(session.userId, session.id), keys.password(session.userId)], [
        JSON.stringify(record),
        maxPerUser ?? "",
        passwordHash,
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

  endSession(userId: string, sessionId: string, revoke?: RevokedAccessToken): Promise<boolean> {
    return this.guard(async () => {
      const sessionKeys = [
        keys.session(userId, sessionId),
        keys.sessions(userId),
        keys.cutoff(userId),
        keys.revokedAccessToken(userId, revoke?.jti ?? ""),
      ];
      const ended = await this.durableScript("endSession", sessionKeys, [sessionId, revoke?.expiresAt ?? ""]);
      return ended === 1;
    });
  }

  endAllSessions(userId: string): Promise<number> {
    return this.guard(async () => Number(await this.durableScript("endAllSessions", [keys.sessions(userId), keys.cutoff(userId)], [])));
  }

  endOtherSessions(userId: string, keepSessionId: string): Promise<number> {
    return this.guard(async () => this.endOthers(userId, keepSessionId, ""));
  }

  changePassword(userId: string, passwordHash: string, keepSessionId: string): Promise<boolean> {
    return this.guard(async () => (await this.endOthers(userId, keepSessionId, passwordHash)) >= 0);
  }

  setUserRoles(userId: string, roles: readonly Role[]): Promise<UserRecord | null> {
    return this.guard(async () => parseJson<UserRecord>(await this.durableScript("setUserRoles", [keys.user(userId)], [JSON.stringify(roles)])));
  }

  async addEnabledAdmin(userId: string): Promise<void> {
    await this.guard(() => this.redis.sadd(keys.enabledAdmins(), userId));
  }

  removeEnabledAdmin(userId: string, keepOne: boolean): Promise<boolean> {
    return this.guard(async () => (await this.script("removeEnabledAdmin", [keys.enabledAdmins()], [userId, keepOne ? "1" : "0"])) === 1);
  }

  listSessions(userId: string): Promise<SessionRecord[]> {
    return this.guard(async () => {
      const ids = await this.redis.zrangebyscore(keys.sessions(userId), `(${Date.now()}`, "+inf");
      if (ids.length === 0) return [];
      const [cutoff, ...raws] = await this.redis.mget(keys.cutoff(userId), ...ids.map((id) => keys.session(userId, id)));
      return raws
        .map((raw) => parseJson<SessionRecord>(raw))
        .filter((session) => isLiveSession(session, toNumber(cutoff)))
        .sort((a, b) => b.createdAt - a.createdAt);
    });
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

  /** Ready when Redis answers; for a Cluster, when it says every slot is served (cluster_state:ok). */
  async ping(): Promise<void> {
    await this.guard(async () => {
      if (!(this.redis instanceof Cluster)) return void (await this.redis.ping());
      const info = String(await this.redis.call("CLUSTER", "INFO"));
      if (!info.includes("cluster_state:ok")) throw new Error("the cluster does not serve every slot");
    });
  }

  async close(): Promise<void> {
    this.redis.disconnect(false);
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
  private async guard<T>(operation: () => Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    try {
      const attempt = operation();
      attempt.catch(() => undefined);
      const deadline = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within STORE_TIMEOUT_MS=${this.timeoutMs}`)), this.timeoutMs);
      });
      return await Promise.race([attempt, deadline]);
    } catch (error) {
      // Name and message only: ioredis errors can carry the command's arguments (a password hash).
      const { name, message } = error instanceof Error ? error : { name: "Error", message: String(error) };
      if (error instanceof ReplyError && !UNAVAILABLE_REPLY.test(message)) {
        this.logger.error({ err: { name, message } }, "store call refused by Redis");
        throw new StoreFaultError(message);
      }
      this.logger.error({ err: { name, message } }, "store call failed");
      throw storeUnavailable();
    } finally {
      clearTimeout(timer);
    }
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

function toNumber(raw: string | null): number | null {
  return raw === null ? null : Number(raw);
}
