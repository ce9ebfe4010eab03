import pino from "pino";
import { connectRedisStore, type RedisStore } from "../../src/store/redis/redis-store";
import { startRedis, type TestRedis } from "../support/redis";
import { storeContract } from "./store-contract";

let redis: TestRedis;
let store: RedisStore;

beforeAll(async () => {
  redis = await startRedis();
  store = await connectRedisStore({ url: redis.url, timeoutMs: 1000, connectWithinMs: 5000, logger: pino({ level: "silent" }) });
});
afterAll(async () => {
  await store.close();
  await redis.destroy();
});

storeContract("redis", () => ({
  store,
  now: () => Date.now(),
  advance: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
}));

describe("Redis key layout", () => {
  it("gives every key a TTL except the user records and the directory, so nothing needs cleaning", async () => {
    const keys = await redis.client.keys("*");
    expect(keys.length).toBeGreaterThan(10);
    const permanent = /^auth:\{u:[^}]+\}:(user|password)$|^auth:\{directory\}:/;
    for (const key of keys) {
      expect(key.startsWith("auth:")).toBe(true);
      const ttl = await redis.client.pttl(key);
      if (permanent.test(key)) expect({ key, ttl }).toEqual({ key, ttl: -1 });
      else expect({ key, expires: ttl > 0 }).toEqual({ key, expires: true });
    }
  });

  it("keeps each user's keys under one hash tag, so each operation stays in one cluster slot", async () => {
    const keys = await redis.client.keys("auth:{u:*");
    const tags = new Set(keys.map((key) => /^auth:\{(u:[^}]+)\}:/.exec(key)?.[1]));
    expect(tags.has(undefined)).toBe(false);
    expect(tags.size).toBeGreaterThan(5);
  });
});
