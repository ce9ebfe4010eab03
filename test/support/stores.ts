import { startCluster } from "./cluster";
import { startRedis } from "./redis";

/** The stores the HTTP suites run against: one Redis, a 3+3 Redis Cluster, or the embedded store. */
export type StoreMode = "redis" | "cluster" | "memory";

export interface StoreBackend {
  readonly mode: StoreMode;
  /** What the API needs in its environment to use this store. */
  readonly env: Record<string, string>;
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
    case "cluster": {
      const cluster = await startCluster();
      return { mode, env: { ...cluster.env }, destroy: () => cluster.destroy() };
    }
  }
}
