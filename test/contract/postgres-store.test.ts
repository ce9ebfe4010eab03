import pino from "pino";
import type { DatabaseConfig } from "../../src/config";
import { createPool } from "../../src/store/postgres/database";
import { connectDirectoryStore, DirectoryStore } from "../../src/store/postgres/directory-store";
import { migrate, readMigrations } from "../../src/store/postgres/migrations";
import { singleNode } from "../../src/store/redis/connection";
import { redisDirectoryHotState } from "../../src/store/redis/access-record";
import { connectRedisStore, type RedisStore } from "../../src/store/redis/redis-store";
import { startPostgres, type TestPostgres } from "../support/postgres";
import { startRedis, type TestRedis } from "../support/redis";
import type { UserRecord } from "../../src/store/store";
import { newUser } from "./ports/harness";
import { storeContract } from "./store-contract";

/**
 * The directory in a real Postgres, the hot state in a real Redis: the same contract as every other
 * store. The Redis runs in cluster mode, where keys of two slots in one command fail (CROSSSLOT): the
 * access record and every hot-state step of a directory change stay on the user's slot.
 */
let postgres: TestPostgres;
let redis: TestRedis;
let redisStore: RedisStore;
let store: DirectoryStore;
let databaseUrl: string;
const logger = pino({ level: "silent" });

beforeAll(async () => {
  [postgres, redis] = await Promise.all([startPostgres(), startRedis({ cluster: true })]);
  databaseUrl = await postgres.createDatabase("contract");
  const database: DatabaseConfig = { url: databaseUrl, migrate: true };
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

describe("between Postgres and Redis", () => {
  const user = () => newUser();
  const sql = (text: string, params: unknown[] = []) => postgres.query(text, params, databaseUrl.split("/").at(-1));
  /** What a crash right after a commit leaves: Postgres changed (`set`), with its outbox row; Redis not. */
  const leaveHalfDone = (userId: string, set: string, kind: string) =>
    sql(
      `WITH changed AS (UPDATE users SET ${set}, access_version = access_version + 1 WHERE id = $1 RETURNING access_version)
       INSERT INTO directory_outbox (user_id, access_version, kind, payload) SELECT $1, access_version, $2, jsonb_build_object('kind', $2::text) FROM changed`,
      [userId, kind],
    );
  /** Another instance on the same stores; its pool and replay timer end with the test. */
  async function otherInstance(use: (instance: DirectoryStore) => Promise<void>, make: () => Promise<DirectoryStore>): Promise<void> {
    const instance = await make();
    try {
      await use(instance);
    } finally {
      instance.stopReplaying();
      await instance.pool.end();
    }
  }

  it("replays at start a change a crash left between the commit and Redis, once", async () => {
    const u = user();
    await store.createUser(u, "hash");
    await store.createSession({ id: "s1", userId: u.id, device: null, expiresAt: Date.now() + 60_000, refreshJti: "r1", assurance: { aal: "aal1", amr: ["pwd"] } });
    await leaveHalfDone(u.id, "disabled = true", "end_all");
    expect((await store.accessState(u.id, "s1", "j")).user!.disabled).toBe(false);
    await otherInstance(async (restarted) => {
      const state = await restarted.accessState(u.id, "s1", "j");
      expect(state.user!.disabled).toBe(true);
      expect(state.cutoff).not.toBeNull();
      expect(await sql("SELECT * FROM directory_outbox")).toEqual([]);
      expect(await restarted.replayPending()).toBe(0);
    }, () => connectDirectoryStore(redisStore, { url: databaseUrl, migrate: false }, logger));
  });

  it("replays, while serving, a change an outage left half done", async () => {
    const u = user();
    await store.createUser(u, "hash");
    const serving = async () => new DirectoryStore(redisStore, createPool({ url: databaseUrl, migrate: false }, { max: 2 }), logger, { everyMs: 100, afterMs: 0 });
    await otherInstance(async (instance) => {
      await leaveHalfDone(u.id, "roles = ARRAY['USER', 'ADMIN']", "record");
      const deadline = Date.now() + 5_000;
      while ((await instance.accessState(u.id, "s", "j")).user!.roles.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect((await instance.accessState(u.id, "s", "j")).user!.roles).toEqual(["USER", "ADMIN"]);
    }, serving);
  });

  it("never writes an older access record over a newer one", async () => {
    const u = user();
    await store.createUser(u, "hash");
    await store.setUserRoles(u.id, ["USER", "ADMIN"]);
    const hot = redisDirectoryHotState(redisStore.core);
    expect(await hot.putAccessRecord({ user: u, version: 1, passwordFingerprint: "", passkeyIds: [] })).toBe(false);
    expect((await store.accessState(u.id, "s", "j")).user!.roles).toEqual(["USER", "ADMIN"]);
  });

  it("writes a record Redis lost again, whatever version is left beside it; forced, over a newer one", async () => {
    const u = user();
    await store.createUser(u, "hash");
    await store.setUserRoles(u.id, ["USER", "ADMIN"]);
    const hot = redisDirectoryHotState(redisStore.core);
    const admin = { ...u, roles: ["USER", "ADMIN"] as UserRecord["roles"] };
    await redis.client.del(`auth:{u:${u.id}}:user`);
    expect(await hot.putAccessRecord({ user: admin, version: 2, passwordFingerprint: "", passkeyIds: [] })).toBe(true);
    expect((await store.accessState(u.id, "s", "j")).user!.roles).toEqual(["USER", "ADMIN"]);
    expect(await hot.putAccessRecord({ user: admin, version: 2, passwordFingerprint: "", passkeyIds: [] })).toBe(false);
    // Forced, it lands at the same version; over a newer one (a restore took Postgres' back), it says so.
    expect(await hot.forceAccessRecord({ user: admin, version: 2, passwordFingerprint: "", passkeyIds: [] })).toBe("written");
    await redis.client.set(`auth:{u:${u.id}}:access-version`, "9");
    expect(await hot.forceAccessRecord({ user: { ...u, disabled: true }, version: 2, passwordFingerprint: "", passkeyIds: [] })).toBe("behind");
    expect(await redis.client.get(`auth:{u:${u.id}}:access-version`)).toBe("2");
    expect((await store.accessState(u.id, "s", "j")).user!.disabled).toBe(true);
  });

  it("keeps a fingerprint of the password in Redis, never the hash", async () => {
    const u = user();
    await store.createUser(u, "$argon2id$secret-hash");
    for (const key of await redis.client.keys(`*${u.id}*`)) {
      if ((await redis.client.type(key)) === "string") expect(await redis.client.get(key)).not.toContain("secret-hash");
    }
  });
});

describe("users(filter:) in SQL", () => {
  it("filters by address substring, role, disabled and creation time, paging by (createdAt, id) and counting the matches", async () => {
    const tag = `filter-${Date.now()}`;
    const base = Date.now() + 10 * 60_000;
    const made = [];
    for (let i = 0; i < 5; i++) {
      const u = newUser({ email: `${tag}-${i}@example.com`, createdAt: base + i, roles: i % 2 === 0 ? ["USER", "ADMIN"] : ["USER"] });
      await store.createUser(u, "hash");
      made.push(u);
    }
    await store.setUserDisabled(made[2]!.id, true);
    const ids = async (filter: object, first = 10, after: { createdAt: number; id: string } | null = null) => {
      const page = await store.listUsers({ first, after, filter });
      return { ids: page.users.map((u) => u.id), total: page.totalCount, more: page.hasNextPage };
    };
    const all = made.map((u) => u.id);
    expect(await ids({ emailContains: tag.toUpperCase() })).toEqual({ ids: all, total: 5, more: false });
    expect(await ids({ emailContains: tag, role: "ADMIN" })).toEqual({ ids: [all[0], all[2], all[4]], total: 3, more: false });
    expect(await ids({ emailContains: tag, disabled: true })).toEqual({ ids: [all[2]], total: 1, more: false });
    expect(await ids({ emailContains: tag, createdAfter: base + 2 })).toEqual({ ids: [all[3], all[4]], total: 2, more: false });
    expect(await ids({ emailContains: tag, role: "ADMIN" }, 2)).toEqual({ ids: [all[0], all[2]], total: 3, more: true });
    expect(await ids({ emailContains: tag, role: "ADMIN" }, 2, { createdAt: made[2]!.createdAt, id: made[2]!.id })).toEqual({ ids: [all[4]], total: 3, more: false });
    expect(await ids({ emailContains: "%" })).toMatchObject({ ids: [], total: 0 });
  });

  it("runs no count when the caller will not read it (countTotal: false), and counts when it will", async () => {
    const tag = `uncounted-${Date.now()}`;
    for (let i = 0; i < 3; i++) await store.createUser(newUser({ email: `${tag}-${i}@example.com` }), "hash");
    const sql = (text: string) => postgres.query<{ n: string }>(text, [], databaseUrl.split("/").at(-1));
    await sql("CREATE EXTENSION IF NOT EXISTS pg_stat_statements");
    const counts = async () => Number((await sql("SELECT coalesce(sum(calls), 0) AS n FROM pg_stat_statements WHERE query LIKE 'SELECT count(*) AS total FROM users%'"))[0]!.n);
    const before = await counts();
    const uncounted = await store.listUsers({ first: 2, after: null, filter: { emailContains: tag }, countTotal: false });
    expect({ users: uncounted.users.length, more: uncounted.hasNextPage, total: uncounted.totalCount }).toEqual({ users: 2, more: true, total: null });
    expect(await counts()).toBe(before);
    expect((await store.listUsers({ first: 2, after: null, filter: { emailContains: tag } })).totalCount).toBe(3);
    expect(await counts()).toBe(before + 1);
  });
});
