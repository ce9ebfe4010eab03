import type { Pool } from "pg";
import type { Logger } from "pino";
import { redisDirectoryHotState } from "../redis/access-record";
import { redisAudit } from "../redis/audit";
import { redisKeySet } from "../redis/key-set";
import { redisLimiter } from "../redis/limiter";
import { redisMailTokens } from "../redis/mail-tokens";
import { redisMfa } from "../redis/mfa";
import { redisPasskeys } from "../redis/passkeys";
import { redisFederation } from "../redis/federation";
import { redisOAuthModels } from "../redis/oauth-models";
import type { RedisStore } from "../redis/redis-store";
import { redisSessions } from "../redis/sessions";
import type { NewSession, Store } from "../store";
import { DIRECTORY_CONNECT_TIMEOUT_MS, DIRECTORY_STATEMENT_TIMEOUT_MS, PostgresCore } from "./core";
import { createPool } from "./database";
import type { DatabaseConfig } from "../../config";
import { postgresOAuthClients } from "./oauth-clients";
import { postgresMfa } from "./mfa";
import { AccessSync, passwordFingerprint, REPLAY_AFTER_MS, REPLAY_EVERY_MS } from "./outbox";
import { postgresPasskeys } from "./passkeys";
import { postgresIdentities } from "./identities";
import { postgresTransitions } from "./transitions";
import { postgresUsers } from "./users";

/** Connections the API's pool opens at most: the directory is read at sign-in and by admins, not per request. */
const POOL_MAX = 10;

/**
 * The directory store over a connected Redis store: replays what the last run left half done
 * before it serves. On failure the Redis store is left to the caller.
 */
export async function connectDirectoryStore(redis: RedisStore, database: DatabaseConfig, logger: Logger): Promise<DirectoryStore> {
  const pool = createPool(database, {
    max: POOL_MAX,
    connectionTimeoutMillis: DIRECTORY_CONNECT_TIMEOUT_MS,
    statementTimeoutMillis: DIRECTORY_STATEMENT_TIMEOUT_MS,
  });
  const store = new DirectoryStore(redis, pool, logger);
  const replayed = await store.replayPending().catch(async (error: unknown) => {
    await pool.end().catch(() => undefined);
    throw error;
  });
  if (replayed > 0) logger.info({ replayed }, "replayed directory changes the last run had not yet copied to Redis");
  return store;
}

export interface DirectoryStore extends Store {}

/**
 * The store with DATABASE_URL: the directory ports (users, the second factor, passkeys) in
 * Postgres, every hot port on the Redis store's core, and the transitions across both (outbox.ts).
 * The request path (accessState) reads Redis only: the access record the directory's writes keep.
 */
export class DirectoryStore {
  readonly pool: Pool;
  readonly redis: RedisStore;
  private readonly sync: AccessSync;
  private readonly replayer: NodeJS.Timeout;

  constructor(redis: RedisStore, pool: Pool, logger: Logger, replay = { everyMs: REPLAY_EVERY_MS, afterMs: REPLAY_AFTER_MS }) {
    this.redis = redis;
    this.pool = pool;
    const core = redis.core;
    const pg = new PostgresCore(pool, logger);
    const hot = redisDirectoryHotState(core);
    const sync = (this.sync = new AccessSync(pg, hot));
    const sessions = redisSessions(core);
    const mailTokens = redisMailTokens(core);
    const { saveChallenge, takeChallenge } = redisPasskeys(core);
    const ports: Omit<Store, "ping" | "close"> = {
      ...sessions,
      // Redis holds the password's fingerprint, never its hash: a login's check compares those.
      createSession: async (session: NewSession, ...rest) => {
        const fingerprinted = session.passwordHash ? { ...session, passwordHash: passwordFingerprint(session.passwordHash) } : session;
        const created = await sessions.createSession(fingerprinted, ...rest);
        if (created.status !== "user_missing") return created;
        // Redis lost the user's record (data loss, a restore, a new Redis) while Postgres, the truth,
        // has the user who just proved who they are: write it again from there, then start once more.
        // Only here, off the request path: a request's check still reads Redis alone.
        await pg.guard(() => sync.copyRecord(session.userId));
        return sessions.createSession(fingerprinted, ...rest);
      },
      ...mailTokens, ...redisAudit(core), ...redisKeySet(core), saveChallenge, takeChallenge,
      limiter: (spec) => redisLimiter(core.client, spec, (operation) => core.guard(operation)),
      ...postgresUsers(pg, sync),
      ...postgresMfa(pg, sync, hot, redisMfa(core)),
      ...postgresPasskeys(pg, sync),
      ...postgresIdentities(pg, sync),
      // Sign-in flows in flight, provider sessions and used logout tokens: hot state.
      ...redisFederation(core),
      ...redisOAuthModels(core),
      ...postgresOAuthClients(pg),
      ...postgresTransitions(pg, sync, { takeMailToken: mailTokens.takeMailToken, accessState: sessions.accessState }),
    };
    Object.assign(this, ports);
    this.replayer = setInterval(() => {
      sync.replayPending(replay.afterMs).then(
        (replayed) => replayed > 0 && logger.info({ replayed }, "replayed directory changes an outage had left half done"),
        (error: Error) => logger.warn({ err: { name: error.name, message: error.message } }, "could not replay the directory outbox; trying again later"),
      );
    }, replay.everyMs);
    this.replayer.unref();
  }

  /** Replays what a crash or an outage left between the two stores (outbox.ts); before serving. */
  replayPending(): Promise<number> {
    return this.sync.replayPending();
  }

  /** Redis: the request path. The directory has its own probe (pingDirectory), reported apart. */
  ping(): Promise<void> {
    return this.redis.ping();
  }

  async pingDirectory(): Promise<void> {
    await this.pool.query("SELECT 1");
  }

  /** Stops the periodic replay; close() does it too. */
  stopReplaying(): void {
    clearInterval(this.replayer);
  }

  async close(): Promise<void> {
    // Not through stopReplaying: the instrumented store wraps every method call as a promise.
    clearInterval(this.replayer);
    await this.redis.close();
    await this.pool.end().catch(() => undefined);
  }
}
