import { ReplyError } from "ioredis";
import type { Logger } from "pino";
import { keys } from "@revocable-auth/verifier/internal";
import type { RedisConfig } from "../../config";
import { storeUnavailable } from "../../errors";
import type { AuditTail } from "../store";
import { createRedisClient, type RedisClient } from "./connection";
import { scripts } from "./scripts";

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
  /** REDIS_REQUIRE_AOF: refuse a Redis without append-only persistence (else warn). */
  readonly requireAof?: boolean;
  /** How many users one filtered `users` page may read; USERS_SCAN_MAX unless a test lowers it. */
  readonly usersScanMax?: number;
}

/**
 * What every concern's methods stand on: the one connection (a single node, Sentinel or a Cluster)
 * with every script defined on it, the guard that bounds and maps each call, the durable script
 * runner and its replica confirmation, and the key lists several concerns share. The concern files
 * (users.ts, sessions.ts, ...) each build their port over it, and RedisStore assembles them.
 */
export class RedisCore {
  /** Redis, Redis through Sentinel, or a Cluster: every call works on any of them. */
  readonly client: RedisClient;
  readonly logger: Logger;
  readonly timeoutMs: number;
  readonly minReplicas: number;
  readonly config: RedisConfig;
  /** Open audit tails, each on a connection of its own: closed with the store. */
  readonly tails = new Set<AuditTail>();
  /** Tail connections not yet handed out: connecting, or making their first reads. */
  readonly openingTails = new Set<RedisClient>();
  closed = false;

  constructor(options: RedisStoreOptions) {
    this.config = options.redis;
    this.logger = options.logger;
    this.timeoutMs = options.timeoutMs;
    this.minReplicas = options.redis.minReplicas;
    this.client = createRedisClient(options.redis, options.timeoutMs);
    for (const [name, script] of Object.entries(scripts)) this.client.defineCommand(name, script);
    this.watchConnection();
  }

  /**
   * Fail closed: a Redis outage becomes SERVICE_UNAVAILABLE for the caller; an error reply that
   * retrying will not fix becomes a StoreFaultError (500). Both are logged here.
   * Every call, bounded by STORE_TIMEOUT_MS as a whole (a script, or a cluster command waiting out
   * a failover, may take several round trips) and its failure mapped to a typed error. One
   * promise and one timer: it runs on every request, where an async function racing a second
   * promise cost a microsecond more, and two more microtask turns.
   */
  guard<T>(operation: () => Promise<T>): Promise<T> {
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

  script(name: ScriptName, scriptKeys: string[], args: ScriptArg[]): Promise<any> {
    const command = (this.client as unknown as Record<ScriptName, (...a: ScriptArg[]) => Promise<unknown>>)[name];
    return command.call(this.client, ...scriptKeys, ...args);
  }

  /**
   * A write that revokes or ends something. With REDIS_MIN_REPLICAS > 0 it is pipelined with WAIT
   * on the same connection, so it reaches the node that ran the script (in a Cluster, the master
   * of the keys' slot), and it counts as done only once that many replicas have it: a failover
   * right after cannot bring the revoked token back. Short of it, the caller gets 503.
   */
  async durableScript(name: ScriptName, scriptKeys: string[], args: ScriptArg[]): Promise<any> {
    if (this.minReplicas === 0) return this.script(name, scriptKeys, args);
    const pipeline = this.client.pipeline();
    (pipeline as unknown as Record<ScriptName, (...a: ScriptArg[]) => unknown>)[name]!.call(pipeline, ...scriptKeys, ...args);
    pipeline.call("WAIT", this.minReplicas, this.waitMs());
    const [written, waited] = await this.execPipeline(pipeline);
    this.checkReplicas(waited);
    return written;
  }

  /** WAIT after a write already made, routed to the node of `slotKey` by pipelining it with a read there. */
  async confirmReplicated(slotKey: string): Promise<void> {
    if (this.minReplicas === 0) return;
    const pipeline = this.client.pipeline().pttl(slotKey).call("WAIT", this.minReplicas, this.waitMs());
    const [, waited] = await this.execPipeline(pipeline);
    this.checkReplicas(waited);
  }

  async execPipeline(pipeline: ReturnType<RedisClient["pipeline"]>): Promise<unknown[]> {
    const results = (await pipeline.exec()) ?? [];
    for (const [error] of results) if (error) throw error;
    return results.map(([, value]) => value);
  }

  sessionKeys(userId: string, sessionId: string): string[] {
    return [keys.user(userId), keys.session(userId, sessionId), keys.sessions(userId), keys.cutoff(userId)];
  }

  /**
   * Two steps: read the user's session ids, then one script over exactly those keys (a script
   * names every key it touches, so it stays valid on a cluster). A session started between the
   * two steps began after the call and is kept, as if it had started just after it.
   */
  async endOthers(userId: string, keepSessionId: string, passwordHash: string): Promise<number> {
    const others = (await this.client.zrange(keys.sessions(userId), "0", "-1")).filter((id) => id !== keepSessionId);
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

  private checkReplicas(acknowledged: unknown): void {
    if (Number(acknowledged) < this.minReplicas) {
      throw new Error(`only ${Number(acknowledged)} of REDIS_MIN_REPLICAS=${this.minReplicas} replicas acknowledged the write in time`);
    }
  }

  /** WAIT's own bound, inside STORE_TIMEOUT_MS so its answer (not the command timeout) says why. Never 0: that waits forever. */
  private waitMs(): number {
    return Math.max(10, Math.floor(this.timeoutMs * 0.8));
  }

  private watchConnection(): void {
    let healthy = false;
    this.client.on("ready", () => {
      healthy = true;
      this.logger.info("connected to Redis");
    });
    this.client.on("error", (error: Error) => {
      if (!healthy) return;
      healthy = false;
      this.logger.error({ err: { name: error.name, message: error.message } }, "lost connection to Redis; retrying");
    });
  }
}

export function parseJson<T>(raw: string | null): T | null {
  return raw === null ? null : (JSON.parse(raw) as T);
}

export function toNumber(raw: string | null): number | null {
  return raw === null ? null : Number(raw);
}
