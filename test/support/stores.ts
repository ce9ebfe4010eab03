import { startApi, type TestApi } from "./api";
import { startCluster } from "./cluster";
import { startPostgres, type TestPostgres } from "./postgres";
import { startRedis } from "./redis";

/**
 * The stores the HTTP suites run against: one Redis, a 3+3 Redis Cluster, the embedded store, or
 * the directory in Postgres (DATABASE_URL) beside one Redis.
 */
export type StoreMode = "redis" | "cluster" | "memory" | "postgres";

export interface StoreBackend {
  readonly mode: StoreMode;
  /** What the API needs in its environment to use this store. */
  readonly env: Record<string, string>;
  /** Mode postgres: the server DATABASE_URL names a database of. */
  readonly postgres?: TestPostgres;
  destroy(): Promise<void>;
}

/** Starts the backing Redis topology for `mode`; call once per test file (a cluster takes seconds). */
export async function startStore(mode: StoreMode): Promise<StoreBackend> {
  switch (mode) {
    case "memory":
      return { mode, env: {}, destroy: async () => undefined };
    case "redis": {
      const redis = await startRedis();
      return { mode, env: { REDIS_URL: redis.url }, destroy: () => redis.destroy() };
    }
    case "postgres": {
      const [redis, postgres] = await Promise.all([startRedis(), startPostgres()]);
      const env = { REDIS_URL: redis.url, DATABASE_URL: await postgres.createDatabase("api") };
      return { mode, env, postgres, destroy: async () => void (await Promise.all([redis.destroy(), postgres.destroy()])) };
    }
    case "cluster": {
      const cluster = await startCluster();
      return { mode, env: { ...cluster.env }, destroy: () => cluster.destroy() };
    }
  }
}

/**
 * For a suite on one store: starts the store and an API on it before the suite's tests, stops both
 * after them. The API is read through the getter, since it exists only once the suite has begun.
 */
export function apiOnStore(mode: StoreMode, env: Record<string, string> = {}): () => TestApi {
  let backend: StoreBackend | undefined;
  let api: TestApi | undefined;
  beforeAll(async () => {
    backend = await startStore(mode);
    api = await startApi(null, { ...backend.env, ...env });
  });
  afterAll(async () => {
    await api?.stop();
    await backend?.destroy();
  });
  return () => {
    if (!api) throw new Error("the API is started in beforeAll");
    return api;
  };
}
