import pino from "pino";
import { singleNode } from "../../src/store/redis/connection";
import { connectRedisStore, type RedisStore } from "../../src/store/redis/redis-store";
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
