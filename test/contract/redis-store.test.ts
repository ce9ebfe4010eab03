import { randomUUID } from "node:crypto";
import pino from "pino";
import { keys as keyOf } from "@revocable-auth/verifier/internal";
import { singleNode } from "../../src/store/redis/connection";
import { connectRedisStore, PENDING_USER_TTL_MS, type RedisStore } from "../../src/store/redis/redis-store";
import type { UserPage, UserPosition } from "../../src/store/store";
import { startRedis, type TestRedis } from "../support/redis";
import { storeContract } from "./store-contract";

let redis: TestRedis;
let store: RedisStore;

beforeAll(async () => {
  redis = await startRedis();
  store = await connectRedisStore({ redis: singleNode(redis.url), timeoutMs: 1000, connectWithinMs: 5000, logger: pino({ level: "silent" }) });
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
  it("gives every key a TTL except the user records (passkeys, second factor and linked identities included) and the directory, so nothing needs cleaning", async () => {
    const keys = await redis.client.keys("*");
    expect(keys.length).toBeGreaterThan(10);
    const permanent = /^auth:\{u:[^}]+\}:(user|access-record|password|access-version|totp|totp-failures|recovery-codes|passkeys|identities)$|^auth:\{directory\}:/;
    for (const key of keys) {
      expect(key.startsWith("auth:")).toBe(true);
      const ttl = await redis.client.pttl(key);
      if (permanent.test(key)) expect({ key, ttl }).toEqual({ key, ttl: -1 });
      // -2: the key expired between KEYS and PTTL, which is the point.
      else expect({ key, expires: ttl > 0 || ttl === -2 }).toEqual({ key, expires: true });
    }
  });

  it("keeps each user's keys under one hash tag, so each operation stays in one cluster slot", async () => {
    const keys = await redis.client.keys("auth:{u:*");
    const tags = new Set(keys.map((key) => /^auth:\{(u:[^}]+)\}:/.exec(key)?.[1]));
    expect(tags.has(undefined)).toBe(false);
    expect(tags.size).toBeGreaterThan(5);
  });
});

describe("Redis TTLs: each entry lives exactly as long as what it guards", () => {
  const user = () => ({ id: randomUUID(), email: `ttl-${randomUUID()}@example.com`, roles: ["USER" as const], createdAt: Date.now(), disabled: false });
  const within = (actual: number, expected: number) => expect(Math.abs(actual - expected)).toBeLessThan(1_500);

  it("expires a revocation when its token would, and a session with its refresh token", async () => {
    const u = user();
    await store.createUser(u, "h");
    const expiresAt = Date.now() + 3_600_000;
    await store.createSession({ id: "s1", userId: u.id, device: null, expiresAt, refreshJti: "r1", assurance: { aal: "aal1", amr: ["pwd"] } });
    within(await redis.client.pttl(keyOf.session(u.id, "s1")), expiresAt - Date.now());
    within(await redis.client.pttl(keyOf.sessions(u.id)), expiresAt - Date.now());
    const tokenExp = Date.now() + 900_000;
    await store.endSession(u.id, "s1", { jti: "a1", expiresAt: tokenExp });
    within(await redis.client.pttl(keyOf.revokedAccessToken(u.id, "a1")), tokenExp - Date.now());
  });

  it("keeps the cutoff until the last session it ended would have expired, and never shortens it", async () => {
    const u = user();
    await store.createUser(u, "h");
    const late = Date.now() + 7 * 24 * 3_600_000;
    await store.createSession({ id: "early", userId: u.id, device: null, expiresAt: Date.now() + 60_000, refreshJti: "r", assurance: { aal: "aal1", amr: ["pwd"] } });
    await store.createSession({ id: "late", userId: u.id, device: null, expiresAt: late, refreshJti: "r", assurance: { aal: "aal1", amr: ["pwd"] } });
    await store.endAllSessions(u.id);
    within(await redis.client.pttl(keyOf.cutoff(u.id)), late - Date.now());
    await store.endAllSessions(u.id); // no sessions left: must not shorten the cutoff's life
    within(await redis.client.pttl(keyOf.cutoff(u.id)), late - Date.now());
  });

  it("never moves the cutoff back, even if Redis' clock steps back", async () => {
    const u = user();
    await store.createUser(u, "h");
    const ahead = Date.now() + 60_000; // a cutoff written by a primary whose clock ran ahead
    await redis.client.set(keyOf.cutoff(u.id), String(ahead), "PX", 120_000);
    await store.endAllSessions(u.id);
    expect(Number(await redis.client.get(keyOf.cutoff(u.id)))).toBe(ahead);
  });
});

describe("users(filter:) on Redis: a scan bounded per page", () => {
  const gets = async () => Number(/cmdstat_get:calls=(\d+)/.exec(await redis.client.info("commandstats"))?.[1] ?? 0);

  it("reads at most usersScanMax users a page, comes back short with where to go on, and still lists every match once", async () => {
    const scanMax = 7;
    const scanning = await connectRedisStore({ redis: singleNode(redis.url), timeoutMs: 1000, connectWithinMs: 5000, logger: pino({ level: "silent" }), usersScanMax: scanMax });
    try {
      const tag = `scan${randomUUID().slice(0, 8)}`;
      const t = Date.now();
      const matches: string[] = [];
      for (let i = 0; i < 30; i++) {
        const id = randomUUID();
        const match = i % 6 === 5;
        await store.createUser({ id, email: `${match ? tag : "other"}-${id}@example.com`, roles: ["USER"], createdAt: t + i, disabled: false }, "h");
        if (match) matches.push(id);
      }
      const filter = { emailContains: tag, createdAfter: t - 1 };
      const seen: string[] = [];
      let after: UserPosition | null = null;
      let short = 0;
      for (let pages = 0; pages < 100; pages++) {
        const before = await gets();
        const page: UserPage = await scanning.listUsers({ first: 2, after, filter, countTotal: false });
        expect((await gets()) - before).toBeLessThanOrEqual(scanMax);
        expect(page.totalCount).toBeNull();
        seen.push(...page.users.map((user) => user.id));
        if (!page.hasNextPage) break;
        if (page.resumeAfter) short++;
        after = page.resumeAfter ?? page.users.at(-1)!;
      }
      expect(seen).toEqual(matches);
      expect(short).toBeGreaterThan(0);
      // Asked for, the count reads every user in range, past the page's bound.
      expect((await scanning.listUsers({ first: 2, after: null, filter })).totalCount).toBe(matches.length);
    } finally {
      await scanning.close();
    }
  });
});

describe("a register that fails part-way leaves nothing behind for good", () => {
  const user = () => ({ id: randomUUID(), email: `pending-${randomUUID()}@example.com`, roles: ["USER" as const], createdAt: Date.now(), disabled: false });

  it("leaves the user and password records expiring, and the email free, when the email claim fails", async () => {
    const u = user();
    // A fault at the claim (here a wrong type where the user list lives) fails the register midway.
    const saved = await redis.client.dumpBuffer(keyOf.users());
    await redis.client.del(keyOf.users());
    await redis.client.set(keyOf.users(), "not a sorted set");
    try {
      await expect(store.createUser(u, "hash")).rejects.toThrow(/WRONGTYPE/);
    } finally {
      await redis.client.del(keyOf.users());
      if (saved) await redis.client.restore(keyOf.users(), 0, saved);
    }
    for (const key of [keyOf.user(u.id), keyOf.password(u.id), keyOf.accessRecord(u.id)]) {
      const ttl = await redis.client.pttl(key);
      expect(ttl).toBeGreaterThan(0);
      expect(ttl).toBeLessThanOrEqual(PENDING_USER_TTL_MS);
    }
    expect(await redis.client.exists(keyOf.email(u.email))).toBe(0);
    const retry = { ...u, id: randomUUID() };
    expect(await store.createUser(retry, "hash")).toBe(true);
    expect(await store.findUserIdByEmail(u.email)).toBe(retry.id);
  });

  it("keeps the records once the email is claimed", async () => {
    const u = user();
    expect(await store.createUser(u, "hash")).toBe(true);
    expect(await redis.client.pttl(keyOf.user(u.id))).toBe(-1);
    expect(await redis.client.pttl(keyOf.password(u.id))).toBe(-1);
    expect(await redis.client.pttl(keyOf.accessRecord(u.id))).toBe(-1);
  });

  it("frees an email whose claim outlived its expired user record, so the address can register again", async () => {
    const u = user();
    const vanished = randomUUID(); // claimed, then the register failed before keeping its records
    await redis.client.set(keyOf.email(u.email), vanished);
    await redis.client.zadd(keyOf.users(), Date.now(), vanished);
    expect(await store.createUser(u, "hash")).toBe(true);
    expect(await store.findUserIdByEmail(u.email)).toBe(u.id);
    expect(await redis.client.zscore(keyOf.users(), vanished)).toBeNull();
  });

  it("does not free the claim of a user that exists, pending or kept", async () => {
    const first = user();
    expect(await store.createUser(first, "hash")).toBe(true);
    expect(await store.createUser({ ...user(), email: first.email }, "other")).toBe(false);
    expect(await store.findUserIdByEmail(first.email)).toBe(first.id);
  });
});
