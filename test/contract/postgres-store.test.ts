import pino from "pino";
import type { DatabaseConfig } from "../../src/config";
import { createPool } from "../../src/store/postgres/database";
import { connectDirectoryStore, type DirectoryStore } from "../../src/store/postgres/directory-store";
import { migrate, readMigrations } from "../../src/store/postgres/migrations";
import { singleNode } from "../../src/store/redis/connection";
import { connectRedisStore, type RedisStore } from "../../src/store/redis/redis-store";
import { startPostgres, type TestPostgres } from "../support/postgres";
import { startRedis, type TestRedis } from "../support/redis";
import { storeContract } from "./store-contract";

/** The directory in a real Postgres, the hot state in a real Redis: the same contract as every other store. */
let postgres: TestPostgres;
let redis: TestRedis;
let redisStore: RedisStore;
let store: DirectoryStore;
const logger = pino({ level: "silent" });

beforeAll(async () => {
  [postgres, redis] = await Promise.all([startPostgres(), startRedis()]);
  const database: DatabaseConfig = { url: await postgres.createDatabase("contract"), migrate: true };
  const pool = createPool(database, { max: 1 });
  await migrate(pool, readMigrations());
  await pool.end();
  redisStore = await connectRedisStore({ redis: singleNode(redis.url), timeoutMs: 2000, connectWithinMs: 5000, logger });
  store = await connectDirectoryStore(redisStore, database, logger);
}, 60_000);
afterAll(async () => {
  await store?.close();
  await Promise.all([postgres?.destroy(), redis?.destroy()]);
});

storeContract("Postgres directory + Redis", () => ({
  store,
  now: () => Date.now(),
  advance: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
}));
