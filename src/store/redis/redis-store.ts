import { Redis, ReplyError, type Cluster } from "ioredis";
import type { Logger } from "pino";
import { RateLimiterRedis } from "rate-limiter-flexible";
import { storeUnavailable } from "../../errors";
import { accessStateKeys, keys, parseAccessState } from "@revocable-auth/verifier";
import { FlexibleLimiter, type Limiter, type LimiterSpec } from "../limiter";
import type {
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
  UserRecord,
} from "../store";
import { isLiveSession } from "../store";
import { scripts } from "./scripts";

export const CONNECTION_NAME = "revocable-auth-api";

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
  readonly url: string;
  /** How long start-up waits for Redis before giving up. */
  readonly connectWithinMs: number;
  /** Bound on connecting and on every command: past it the call fails instead of hanging. */
  readonly timeoutMs: number;
  readonly logger: Logger;
}

/** Opens a connection and waits until Redis answers (retrying), so start-up fails loudly. */
export async function connectRedisStore(options: RedisStoreOptions): Promise<RedisStore> {
  const store = new RedisStore(options);
  await store.connect(options.connectWithinMs);
  return store;
}

export class RedisStore implements Store {
  private readonly redis: Redis;
  private readonly logger: Logger;

  constructor(options: RedisStoreOptions) {
    this.logger = options.logger;
    this.redis = new Redis(options.url, {
      lazyConnect: true,
      // Shows up in CLIENT LIST, so operators can tell this service's connections apart.
      connectionName: CONNECTION_NAME,
      // Fail fast while disconnected rather than queueing: a request must not hang on a dead Redis.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      autoResendUnfulfilledCommands: false,
      commandTimeout: options.timeoutMs,
      connectTimeout: options.timeoutMs,
      // Reconnect forever, so the service recovers by itself when Redis comes back.
      retryStrategy: (attempt) => Math.min(100 * attempt, 1000),
    });
    for (const [name, script] of Object.entries(scripts)) this.redis.defineCommand(name, script);
    this.watchConnection();
  }

  /** Waits for the first connection (ioredis keeps retrying) or gives up after `withinMs`. */
  async connect(withinMs: number): Promise<void> {
    this.redis.connect().catch(() => undefined);
    const ready = new Promise<void>((resolve) => this.redis.once("ready", () => resolve()));
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`Redis did not answer within ${withinMs} ms`)), withinMs);
    });
    try {
      await Promise.race([ready, timeout]);
    } catch (error) {
      this.redis.disconnect(false);
      throw error;
    } finally {
      clearTimeout(timer);
    }
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

  listUsers(): Promise<UserRecord[]> {
    return this.guard(async () => {
      const ids = await this.redis.zrange(keys.users(), "0", "-1");
      const users = await Promise.all(ids.map((id) => this.redis.get(keys.user(id))));
      return users.map((raw) => parseJson<UserRecord>(raw)).filter((user) => user !== null);
    });
  }

  setUserDisabled(userId: string, disabled: boolean): Promise<UserRecord | null> {
    return this.guard(async () => {
      const userKeys = [keys.user(userId), keys.sessions(userId), keys.cutoff(userId)];
      return parseJson<UserRecord>(await this.script("setUserDisabled", userKeys, [disabled ? "1" : "0"]));
    });
  }

  createSession(session: NewSession, maxPerUser?: number): Promise<CreateSessionResult> {
    return this.guard(async () => {
      const [status, raw] = await this.script("createSession", this.sessionKeys(session.userId, session.id), [
        JSON.stringify(session),
        maxPerUser ?? "",
      ]);
      if (status === "created") return { status, session: JSON.parse(raw) as SessionRecord };
      return { status: status as "user_missing" | "user_disabled" };
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
      const ended = await this.script("endSession", sessionKeys, [sessionId, revoke?.expiresAt ?? ""]);
      return ended === 1;
    });
  }

  endAllSessions(userId: string): Promise<number> {
    return this.guard(async () => Number(await this.script("endAllSessions", [keys.sessions(userId), keys.cutoff(userId)], [])));
  }

  endOtherSessions(userId: string, keepSessionId: string): Promise<number> {
    return this.guard(async () => this.endOthers(userId, keepSessionId, ""));
  }

  changePassword(userId: string, passwordHash: string, keepSessionId: string): Promise<boolean> {
    return this.guard(async () => (await this.endOthers(userId, keepSessionId, passwordHash)) >= 0);
  }

  setUserRoles(userId: string, roles: readonly Role[]): Promise<UserRecord | null> {
    return this.guard(async () => parseJson<UserRecord>(await this.script("setUserRoles", [keys.user(userId)], [JSON.stringify(roles)])));
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

  async ping(): Promise<void> {
    await this.guard(() => this.redis.ping());
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
    return Number(await this.script("endOtherSessions", [String(scriptKeys.length), ...scriptKeys], [keepSessionId, passwordHash, ...others]));
  }

  private sessionKeys(userId: string, sessionId: string): string[] {
    return [keys.user(userId), keys.session(userId, sessionId), keys.sessions(userId), keys.cutoff(userId)];
  }

  private script(name: ScriptName, scriptKeys: string[], args: ScriptArg[]): Promise<any> {
    const command = (this.redis as unknown as Record<ScriptName, (...a: ScriptArg[]) => Promise<unknown>>)[name];
    return command.call(this.redis, ...scriptKeys, ...args);
  }

  /**
   * Fail closed: a Redis outage becomes SERVICE_UNAVAILABLE for the caller; an error reply that
   * retrying will not fix becomes a StoreFaultError (500). Both are logged here.
   */
  private async guard<T>(operation: () => Promise<T>): Promise<T> {
    try {
      return await operation();
    } catch (error) {
      // Name and message only: ioredis errors can carry the command's arguments (a password hash).
      const { name, message } = error instanceof Error ? error : { name: "Error", message: String(error) };
      if (error instanceof ReplyError && !UNAVAILABLE_REPLY.test(message)) {
        this.logger.error({ err: { name, message } }, "store call refused by Redis");
        throw new StoreFaultError(message);
      }
      this.logger.error({ err: { name, message } }, "store call failed");
      throw storeUnavailable();
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
  client: Redis | Cluster,
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
