import pino from "pino";
import { MemoryBackchannelLogoutStore } from "../../src/store/memory/backchannel-logout";
import { redisBackchannelLogout } from "../../src/store/redis/backchannel-logout";
import { singleNode } from "../../src/store/redis/connection";
import { connectRedisStore, type RedisStore } from "../../src/store/redis/redis-store";
import { startRedis, type TestRedis } from "../support/redis";
import { backchannelLogoutContract } from "./ports/backchannel-logout";

// Back-channel logout's links and queue: the same suite on the embedded store, on Redis, and on a
// cluster-mode Redis (where a script touching two slots fails with CROSSSLOT).
describe("memory", () => {
  let now = Date.now();
  const store = new MemoryBackchannelLogoutStore();
  backchannelLogoutContract(() => ({
    store,
    now: () => now,
    async advance(ms) {
      now += ms;
    },
  }));
});

for (const cluster of [false, true]) {
  describe(cluster ? "redis in cluster mode" : "redis", () => {
    let redis: TestRedis;
    let store: RedisStore;
    beforeAll(async () => {
      redis = await startRedis(cluster ? { cluster: true } : undefined);
      store = await connectRedisStore({ redis: singleNode(redis.url), timeoutMs: 1000, connectWithinMs: 5000, logger: pino({ level: "silent" }) });
    });
    afterAll(async () => {
      await store?.close();
      await redis?.destroy();
    });
    backchannelLogoutContract(() => ({
      store: redisBackchannelLogout(store.core),
      now: () => Date.now(),
      advance: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
    }));
  });
}
