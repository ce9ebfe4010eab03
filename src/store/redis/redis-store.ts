import { Cluster } from "ioredis";
import type { Logger } from "pino";
import type { RedisConfig } from "../../config";
import { storeUnavailable } from "../../errors";
import { keys } from "../keys";
import type {
  AccessState,
  CreateSessionResult,
  Credentials,
  NewSession,
  RevokedAccessToken,
  RotateRequest,
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
      const created = await this.redis
        .multi()
        .set(keys.user(user.id), JSON.stringify(user), "NX")
        .set(keys.password(user.id), passwordHash)
        .exec();
      if (created?.[0]?.[1] !== "OK") return false;
      // The email claim is the commit point; a user record left by a crash before it is unreachable.
      const claimed = await this.script("claimEmail", [keys.email(user.email), keys.users()], [user.id, String(user.createdAt)]);
      if (claimed === 1) return true;
      await this.redis.del(keys.user(user.id), keys.password(user.id));
      return false;
    });
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

  createSession(session: NewSession): Promise<CreateSessionResult> {
    return this.guard(async () => {
      const [status, raw] = await this.script("createSession", this.sessionKeys(session.userId, session.id), [
        JSON.stringify(session),
      ]);
      if (status === "created") return { status, session: JSON.parse(raw) as SessionRecord };
      return { status: status as "user_missing" | "user_disabled" };
    });
  }

  rotateSession(request: RotateRequest): Promise<RotateResult> {
    return this.guard(async () => {
      const { userId, sessionId, presentedJti, nextJti, nextExpiresAt } = request;
      const [status, session, user] = await this.script("rotateSession", this.sessionKeys(userId, sessionId), [
        sessionId,
        presentedJti,
        nextJti,
        nextExpiresAt,
      ]);
      if (status === "rotated") {
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
      const [user, session, cutoff, revoked] = await this.redis.mget(
        keys.user(userId),
        keys.session(userId, sessionId),
        keys.cutoff(userId),
        keys.revokedAccessToken(userId, jti),
      );
      return {
        user: parseJson<UserRecord>(user),
        session: parseJson<SessionRecord>(session),
        cutoff: toNumber(cutoff),
        accessTokenRevoked: revoked !== null,
      };
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
   * Fail closed: any Redis failure becomes SERVICE_UNAVAILABLE for the caller, and is logged here.
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

function parseJson<T>(raw: string | null): T | null {
  return raw === null ? null : (JSON.parse(raw) as T);
}

function toNumber(raw: string | null): number | null {
  return raw === null ? null : Number(raw);
}
