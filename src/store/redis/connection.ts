import { Cluster, Redis, type ClusterOptions, type RedisOptions } from "ioredis";
import { connect } from "node:net";
import type { Logger } from "pino";
import type { HostPort, RedisConfig } from "../../config";

/** Any ioredis client the store can run on: one Redis (plain or found through Sentinel), or a Cluster. */
export type RedisClient = Redis | Cluster;

export const CONNECTION_NAME = "revocable-auth-api";

/** Start-up logs at most one failed attempt per this many ms. */
const LOG_ATTEMPT_EVERY_MS = 1000;

/** REDIS_URL alone, as the tests and scripts use it. */
export function singleNode(url: string, minReplicas = 0): RedisConfig {
  return { mode: "single", url, username: null, password: null, tls: false, minReplicas };
}

export interface ClientRole {
  /** A live-channel subscriber: sends nothing but (S)SUBSCRIBE, sharded on a Cluster. */
  readonly subscriber?: boolean;
  /** A connection for blocking reads of up to this many ms (the audit tail): each command may take that much longer. */
  readonly blockingMs?: number;
}

/**
 * Builds the client for the configured mode. Every mode gets the same fail-fast behaviour: no
 * offline queue, no per-request retries, every command bounded by `timeoutMs`, reconnecting forever.
 */
export function createRedisClient(config: RedisConfig, timeoutMs: number, { subscriber = false, blockingMs = 0 }: ClientRole = {}): RedisClient {
  const node: RedisOptions = {
    // Shows up in CLIENT LIST, so operators can tell this service's connections apart.
    connectionName: CONNECTION_NAME,
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    // A subscriber sends nothing but (S)SUBSCRIBE, whose replies come with its connection.
    ...(subscriber ? {} : { commandTimeout: timeoutMs + blockingMs }),
    connectTimeout: timeoutMs,
    ...(config.username ? { username: config.username } : {}),
    ...(config.password ? { password: config.password } : {}),
    ...(config.tls ? { tls: {} } : {}),
  };
  // Reconnect forever, so the service recovers by itself when Redis comes back.
  const retry = (attempt: number) => Math.min(100 * attempt, 1000);
  switch (config.mode) {
    case "single":
      return new Redis(config.url, { ...node, lazyConnect: true, enableOfflineQueue: false, retryStrategy: retry });
    case "sentinel":
      return keepConnecting(new Redis({
        ...node,
        lazyConnect: true,
        enableOfflineQueue: false,
        retryStrategy: retry,
        sentinels: config.sentinels.map(({ host, port }) => ({ host, port })),
        name: config.masterName,
        sentinelRetryStrategy: retry,
        sentinelCommandTimeout: timeoutMs,
        // Subscribes to +switch-master, so a failover moves the connection without waiting for an error.
        failoverDetector: true,
        ...(config.tls ? { enableTLSForSentinelMode: true, sentinelTLS: {} } : {}),
      }), retry);
    case "cluster": {
      const options: ClusterOptions = {
        lazyConnect: true,
        enableOfflineQueue: false,
        redisOptions: node,
        clusterRetryStrategy: retry,
        slotsRefreshTimeout: timeoutMs,
        // Re-reads the slot map often, so a promoted replica is found soon after a failover.
        slotsRefreshInterval: 1000,
        retryDelayOnFailover: 100,
        retryDelayOnClusterDown: 100,
        // A live-channel subscriber (src/live/redis-channel.ts): one subscriber per shard, for SSUBSCRIBE.
        ...(subscriber ? { shardedSubscribers: true } : {}),
      };
      return new Cluster(
        config.nodes.map(({ host, port }) => ({ host, port })),
        options,
      );
    }
  }
}

/** Connects a client made above, or gives up after `withinMs` and stops it retrying. */
export async function connectWithin(client: RedisClient, withinMs: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`Redis did not answer within ${withinMs} ms`)), withinMs);
  });
  try {
    await Promise.race([client.connect(), deadline]);
  } catch (error) {
    disconnectOnce(client);
    throw error;
  } finally {
    clearTimeout(timer);
  }
}

/** Clients this service closed itself: the only ones keepConnecting leaves closed. */
const closedOnPurpose = new WeakSet<RedisClient>();

/**
 * Stops a client for good, unless that is done already: ioredis arms a 2 s timer at every
 * disconnect, cleared only by a close still to come, so one more on a closed client lingers.
 * Every client this service closes is closed here, so keepConnecting knows it was meant.
 */
export function disconnectOnce(client: RedisClient): void {
  closedOnPurpose.add(client);
  if (client.status !== "end") client.disconnect(false);
}

/**
 * ioredis 6 gives a Sentinel client up for good when its failover detector hears +switch-master
 * while the client is between connections (asking a sentinel where the master is): the attempt in
 * flight fails with "Connection is closed", the client's status becomes "end", and nothing
 * retries. CI saw it: after a failover the API answered 503 until restarted. So a client that
 * ends without this service closing it is connected again, after the usual retry delay.
 */
function keepConnecting(client: Redis, retry: (attempt: number) => number): Redis {
  let attempts = 0;
  client.on("ready", () => (attempts = 0));
  client.on("end", () => {
    if (closedOnPurpose.has(client)) return;
    setTimeout(() => {
      if (closedOnPurpose.has(client) || client.status !== "end") return;
      // Its failures reach the client's "error" listeners, and the next "end" comes back here.
      client.connect().catch(() => undefined);
    }, retry(++attempts)).unref();
  });
  return client;
}

/** Where Redis is, for log lines and errors: host and port only, never a password. */
function describeTarget(config: RedisConfig): HostPort & { mode: RedisConfig["mode"] } {
  if (config.mode === "single") {
    const url = new URL(config.url);
    return { mode: "single", host: url.hostname, port: Number(url.port || 6379) };
  }
  const first = config.mode === "cluster" ? config.nodes[0]! : config.sentinels[0]!;
  return { mode: config.mode, host: first.host, port: first.port };
}

interface FailedAttempt extends HostPort {
  readonly cause: string;
}

/** What an ioredis connection error says about where and why: host, port, and a code such as ECONNREFUSED. */
function describeFailure(error: unknown, fallback: HostPort): FailedAttempt {
  const err = error as { code?: string; address?: string; port?: number; message?: string; lastNodeError?: unknown };
  const inner = err.lastNodeError as typeof err | undefined;
  const source = err.code ? err : inner?.code ? inner : err;
  const host = source.address ?? fallback.host;
  const port = source.port ?? fallback.port;
  return { host, port, cause: source.code ?? source.message ?? String(error) };
}

/**
 * Waits for the first connection (ioredis keeps retrying), logging each failed attempt at most
 * once a second, or gives up after `withinMs` with an error that names host, port and cause.
 */
export async function waitUntilConnected(client: RedisClient, config: RedisConfig, withinMs: number, logger: Logger): Promise<void> {
  const target = describeTarget(config);
  let last: FailedAttempt | null = null;
  let lastLoggedAt = 0;
  let attempts = 0;
  const explained = new Map<string, string>();
  const onError = (error: unknown) => {
    attempts++;
    const raw = describeFailure(error, target);
    // Reuse what the last probe of this address found, so the final error names the cause too.
    const probed = explained.get(`${raw.host}:${raw.port}`);
    const failure = probed && !/^E[A-Z]+$/.test(raw.cause) ? { ...raw, cause: probed } : raw;
    last = failure;
    if (Date.now() - lastLoggedAt < LOG_ATTEMPT_EVERY_MS) return;
    lastLoggedAt = Date.now();
    const count = attempts;
    void explain(failure).then((found) => {
      explained.set(`${found.host}:${found.port}`, found.cause);
      if (last === failure) last = found;
      logger.warn({ mode: target.mode, ...found, attempts: count }, "waiting for Redis: connection attempt failed; retrying");
    });
  };
  client.on("error", onError);
  client.connect().catch(() => undefined);
  const ready = new Promise<void>((resolve) => client.once("ready", () => resolve()));
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const failed = last as FailedAttempt | null;
      const why = failed ? ` (last attempt: ${failed.host}:${failed.port}: ${failed.cause})` : ` (${target.host}:${target.port})`;
      reject(new Error(`Redis did not answer within ${withinMs} ms${why}`));
    }, withinMs);
  });
  try {
    await Promise.race([ready, timeout]);
  } catch (error) {
    disconnectOnce(client);
    throw error;
  } finally {
    clearTimeout(timer);
    client.off("error", onError);
  }
}

/**
 * A Cluster and Sentinel report a refused connection only as "Connection is closed" or "Failed to
 * refresh slots cache": when the cause has no socket error code, one plain TCP connect to the same
 * address finds it (ECONNREFUSED, ETIMEDOUT, ENOTFOUND, …). Start-up only, at most once a second.
 */
async function explain(failure: FailedAttempt): Promise<FailedAttempt> {
  if (/^E[A-Z]+$/.test(failure.cause)) return failure;
  const code = await new Promise<string | null>((resolve) => {
    const socket = connect({ host: failure.host, port: failure.port });
    socket.setTimeout(1000, () => {
      socket.destroy();
      resolve("ETIMEDOUT");
    });
    socket.once("connect", () => {
      socket.destroy();
      resolve(null);
    });
    socket.once("error", (error: NodeJS.ErrnoException) => resolve(error.code ?? null));
  });
  return code ? { ...failure, cause: code } : failure;
}

class EvictingRedisError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "EvictingRedisError";
  }
}

/**
 * Revocation entries carry TTLs, so a volatile-* policy evicts them first and an allkeys-* one
 * may evict any key: either way a revoked token would work again. Refuse anything but noeviction,
 * on every master; where CONFIG is not allowed (managed Redis), warn with what to check.
 */
export async function checkEvictionPolicy(client: RedisClient, logger: Logger): Promise<void> {
  const masters = client instanceof Cluster ? client.nodes("master") : [client];
  for (const master of masters) {
    const where = `${master.options.host}:${master.options.port}`;
    let policy: string | undefined;
    try {
      const reply = (await master.call("CONFIG", "GET", "maxmemory-policy")) as string[];
      policy = reply[1];
    } catch (error) {
      logger.warn(
        { redis: where, err: { message: (error as Error).message } },
        "cannot read maxmemory-policy (CONFIG not allowed): make sure this Redis uses maxmemory-policy noeviction, or revoked tokens can be evicted and work again",
      );
      continue;
    }
    if (policy !== undefined && policy !== "noeviction") {
      throw new EvictingRedisError(
        `Redis at ${where} has maxmemory-policy ${policy}: it may evict revocation entries, and a revoked token would work again. Set maxmemory-policy noeviction (see docs/operations.md)`,
      );
    }
  }
}

class NonDurableRedisError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "NonDurableRedisError";
  }
}

/** How a master keeps its data: append-only or not, or null when neither CONFIG nor INFO may be read. */
async function appendOnly(master: Redis): Promise<boolean | null> {
  try {
    const reply = (await master.call("CONFIG", "GET", "appendonly")) as string[];
    if (reply[1] === "yes" || reply[1] === "no") return reply[1] === "yes";
  } catch {
    // CONFIG renamed or not granted (managed Redis): INFO persistence says the same.
  }
  try {
    const info = String(await master.call("INFO", "persistence"));
    const enabled = /^aof_enabled:(\d)/m.exec(info)?.[1];
    if (enabled !== undefined) return enabled === "1";
  } catch {
    // Neither may be read.
  }
  return null;
}

/**
 * Without append-only persistence a Redis restart forgets every revocation since the last
 * snapshot, and those tokens work again. `required` (REDIS_REQUIRE_AOF, on in production): refuse
 * to start on such a Redis, and, failing closed, on one whose persistence can be read neither with
 * CONFIG nor with INFO. Otherwise, a warning for either. Every master of a Cluster is checked.
 */
export async function checkPersistence(client: RedisClient, required: boolean, logger: Logger): Promise<void> {
  const masters = client instanceof Cluster ? client.nodes("master") : [client];
  for (const master of masters) {
    const where = `${master.options.host}:${master.options.port}`;
    const aof = await appendOnly(master);
    if (aof === true) continue;
    const problem =
      aof === false
        ? `Redis at ${where} has appendonly no: a Redis restart would forget the revocations since its last snapshot, and those tokens would work again. Set appendonly yes (see docs/operations.md)`
        : `Cannot read whether Redis at ${where} uses append-only persistence (CONFIG GET appendonly and INFO persistence are both refused). Grant one of them, or check it in your provider's settings`;
    if (required) throw new NonDurableRedisError(`${problem}, or set REDIS_REQUIRE_AOF=off to start anyway`);
    logger.warn({ redis: where, appendonly: aof === false ? "no" : "unknown" }, `${problem} (REDIS_REQUIRE_AOF=on refuses to start on it)`);
  }
}

/** What Redis 6+ (and before it, Redis 5) answers AUTH with when no password is set. */
const NO_PASSWORD_SET = /without any password configured|no password is set/i;

/**
 * A password Redis does not need: ioredis sends it, Redis ignores it with an error, and the
 * connection works, so a Redis that was meant to require one (requirepass lost in a restart or a
 * new deployment) would go unnoticed. Asks once more with the same password on every master and
 * warns, naming the node, never the password (Redis echoes it in the error, which is not logged).
 */
export async function checkPasswordNeeded(client: RedisClient, config: RedisConfig, logger: Logger): Promise<void> {
  const password = config.password ?? (config.mode === "single" ? decodeURIComponent(new URL(config.url).password) : "");
  const username = config.username ?? (config.mode === "single" ? decodeURIComponent(new URL(config.url).username) : "");
  if (!password || (username && username !== "default")) return;
  const masters = client instanceof Cluster ? client.nodes("master") : [client];
  for (const master of masters) {
    const unneeded = await master.call("AUTH", password).then(
      () => false,
      (error: Error) => NO_PASSWORD_SET.test(error.message),
    );
    if (!unneeded) continue;
    const where = `${master.options.host}:${master.options.port}`;
    logger.warn(
      { redis: where },
      `Redis at ${where} needs no password, but ${config.password ? "REDIS_PASSWORD" : "REDIS_URL"} gives one: anyone who reaches it can read and change every session. Set requirepass (or an ACL user) on it, or remove the password from the configuration`,
    );
  }
}
