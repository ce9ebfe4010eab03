import { Cluster } from "ioredis";
import type { Store } from "../store";
import { redisAudit } from "./audit";
import { checkEvictionPolicy, checkPasswordNeeded, checkPersistence, disconnectOnce, waitUntilConnected, type RedisClient } from "./connection";
import { RedisCore, type RedisStoreOptions } from "./core";
import { redisFederation } from "./federation";
import { redisIdentities } from "./identities";
import { redisKeySet } from "./key-set";
import { redisLimiter } from "./limiter";
import { redisMailTokens } from "./mail-tokens";
import { redisMfa } from "./mfa";
import { redisOAuthClients } from "./oauth-clients";
import { redisOAuthModels } from "./oauth-models";
import { redisPasskeys } from "./passkeys";
import { redisSessions } from "./sessions";
import { redisTransitions } from "./transitions";
import { redisUsers } from "./users";

export { AUDIT_TAIL_MAX_BLOCK_MS } from "./audit";
export { CONNECTION_NAME } from "./connection";
export { StoreFaultError, type RedisStoreOptions } from "./core";
export { redisLimiter } from "./limiter";
export { PENDING_USER_TTL_MS, USERS_SCAN_MAX } from "./users";

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

/**
 * Every port, assembled onto the class below: its methods are the concern files', copied on in the
 * constructor from objects typed as Store's ports (so none is missing, and none has an extra key).
 */
export interface RedisStore extends Store {}

/**
 * The Redis store: one core (core.ts: the connection, the guard, the durable script runner) and
 * one file per concern, each building its port over the core; assembled here, and checked against
 * Store, so a call on any port is the same guarded call on the same connection.
 */
export class RedisStore {
  /** Redis, Redis through Sentinel, or a Cluster: every call works on any of them. */
  readonly client: RedisClient;
  /** For a directory kept elsewhere (src/store/postgres), which builds its hot-state half on it. */
  readonly core: RedisCore;

  constructor(options: RedisStoreOptions) {
    const core = (this.core = new RedisCore(options));
    this.client = core.client;
    const ports: Omit<Store, "ping" | "close"> = {
      ...redisUsers(core, options.usersScanMax), ...redisSessions(core), ...redisMfa(core), ...redisPasskeys(core),
      ...redisMailTokens(core), ...redisTransitions(core), ...redisAudit(core), ...redisKeySet(core),
      ...redisIdentities(core), ...redisFederation(core), ...redisOAuthClients(core), ...redisOAuthModels(core),
      /** Counters for throttling, on this same connection; each counter is one key. */
      limiter: (spec) => redisLimiter(core.client, spec, (operation) => core.guard(operation)),
    };
    Object.assign(this, ports);
  }

  /** Ready when Redis answers; for a Cluster, when it says every slot is served (cluster_state:ok). */
  async ping(): Promise<void> {
    await this.core.guard(async () => {
      if (!(this.client instanceof Cluster)) return void (await this.client.ping());
      const info = String(await this.client.call("CLUSTER", "INFO"));
      if (!info.includes("cluster_state:ok")) throw new Error("the cluster does not serve every slot");
    });
  }

  async close(): Promise<void> {
    this.core.closed = true;
    for (const client of this.core.openingTails) disconnectOnce(client);
    for (const tail of [...this.core.tails]) tail.close();
    disconnectOnce(this.client);
  }
}
