import { Cluster } from "ioredis";
import pino from "pino";
import { singleNode } from "../../src/store/redis/connection";
import { connectRedisStore, redisLimiter, type RedisStore } from "../../src/store/redis/redis-store";
import { startRedis, type TestRedis } from "../support/redis";
import { storeContract } from "./store-contract";

/**
 * The whole contract again on a cluster-mode Redis, where a command or script touching keys of two
 * hash slots fails with CROSSSLOT: this proves every operation stays within one slot.
 */
let redis: TestRedis;
let store: RedisStore;

beforeAll(async () => {
  redis = await startRedis({ cluster: true });
  store = await connectRedisStore({ redis: singleNode(redis.url), timeoutMs: 1000, connectWithinMs: 5000, logger: pino({ level: "silent" }) });
});
afterAll(async () => {
  await store.close();
  await redis.destroy();
});

describe("the cluster-mode server", () => {
  it("really refuses keys of two slots in one command", async () => {
    await expect(redis.client.mget("auth:{u:a}:user", "auth:{u:b}:user")).rejects.toThrow(/CROSSSLOT/);
  });
});

storeContract("redis in cluster mode", () => ({
  store,
  now: () => Date.now(),
  advance: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
}));

describe("throttle limiters on an ioredis Cluster client", () => {
  it("count, block and reset through the cluster client, each counter in one slot", async () => {
    const { hostname, port } = new URL(redis.url);
    // A lone node announces an empty address in CLUSTER SLOTS unless told its own.
    await redis.client.config("SET", "cluster-announce-ip", hostname);
    const cluster = new Cluster([{ host: hostname, port: Number(port) }], { lazyConnect: true });
    await cluster.connect();
    try {
      const limiter = redisLimiter(cluster, { name: "cluster-contract", points: 2, windowSeconds: 60 });
      expect((await limiter.hit("203.0.113.9")).count).toBe(1);
      expect((await limiter.hit("203.0.113.9")).count).toBe(2);
      await limiter.block("203.0.113.9", 30);
      const blocked = await limiter.get("203.0.113.9");
      expect(blocked!.count).toBeGreaterThan(2);
      expect(blocked!.msLeft).toBeGreaterThan(20_000);
      await limiter.reset("203.0.113.9");
      expect(await limiter.get("203.0.113.9")).toBeNull();
    } finally {
      cluster.disconnect();
    }
  });
});
