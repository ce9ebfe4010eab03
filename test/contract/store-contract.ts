import { randomUUID } from "node:crypto";
import { compareUserPositions, type NewSession, type Store, type UserPage, type UserPosition, type UserRecord } from "../../src/store/store";

export interface StoreHarness {
  readonly store: Store;
  /** Waits until `ms` have passed for the store (real time for Redis, a moved clock for memory). */
  advance(ms: number): Promise<void>;
  /** The store's own notion of now, epoch ms. */
  now(): number;
}

let n = 0;
const newUser = (overrides: Partial<UserRecord> = {}): UserRecord => ({
  id: randomUUID(),
  email: `contract-${++n}-${randomUUID()}@example.com`,
  roles: ["USER"],
  createdAt: Date.now(),
  disabled: false,
  ...overrides,
});

/**
 * The Store contract: every implementation must pass this same suite, so the embedded store is
 * a faithful stand-in for Redis on one instance.
 */
export function storeContract(name: string, harness: () => StoreHarness) {
  describe(`Store contract: ${name}`, () => {
    let h: StoreHarness;
    let store: Store;
    beforeAll(() => {
      h = harness();
      store = h.store;
    });

    const session = (userId: string, overrides: Partial<NewSession> = {}): NewSession => ({
      id: randomUUID(),
      userId,
      device: "phone",
      expiresAt: h.now() + 60_000,
      refreshJti: randomUUID(),
      ...overrides,
    });
    const withUser = async (overrides: Partial<UserRecord> = {}) => {
      const user = newUser(overrides);
      expect(await store.createUser(user, "hash-of-" + user.id)).toBe(true);
      return user;
    };
    const started = async (userId: string, overrides: Partial<NewSession> = {}) => {
      const result = await store.createSession(session(userId, overrides));
      if (result.status !== "created") throw new Error(result.status);
      return result.session;
    };

    describe("users", () => {
      it("stores a user and finds it by email, with its password hash", async () => {
        const user = await withUser();
        expect(await store.findUserIdByEmail(user.email)).toBe(user.id);
        expect(await store.getUser(user.id)).toEqual(user);
        expect(await store.getCredentials(user.id)).toEqual({ user, passwordHash: "hash-of-" + user.id });
      });

      it("refuses a second user with the same email and keeps the first", async () => {
        const first = await withUser();
        const second = newUser({ email: first.email });
        expect(await store.createUser(second, "other")).toBe(false);
        expect(await store.findUserIdByEmail(first.email)).toBe(first.id);
        expect(await store.getUser(second.id)).toBeNull();
      });

      it("lets exactly one of many concurrent registrations of one email win", async () => {
        const email = newUser().email;
        const results = await Promise.all(Array.from({ length: 10 }, () => store.createUser(newUser({ email }), "h")));
        expect(results.filter(Boolean)).toHaveLength(1);
      });

      it("answers null for unknown users and emails", async () => {
        expect(await store.getUser(randomUUID())).toBeNull();
        expect(await store.getCredentials(randomUUID())).toBeNull();
        expect(await store.findUserIdByEmail("nobody@example.com")).toBeNull();
      });

      it("lists users oldest first", async () => {
        const a = await withUser({ createdAt: 1_000 });
        const b = await withUser({ createdAt: 2_000 });
        const ids = (await store.listUsers({ first: 100, after: null })).users.map((u) => u.id);
        expect(ids.indexOf(a.id)).toBeGreaterThanOrEqual(0);
        expect(ids.indexOf(a.id)).toBeLessThan(ids.indexOf(b.id));
      });

      /** Follows every page from the start, running `between` after each; returns every user seen. */
      const walk = async (first: number, between: (page: UserPage) => Promise<void> = async () => undefined) => {
        const seen: UserRecord[] = [];
        let after: UserPosition | null = null;
        for (let pages = 0; pages < 1_000; pages++) {
          const page: UserPage = await store.listUsers({ first, after });
          expect(page.users.length).toBeLessThanOrEqual(first);
          seen.push(...page.users);
          await between(page);
          if (!page.hasNextPage) return { seen, last: page };
          after = page.users.at(-1)!;
        }
        throw new Error("never reached the last page");
      };

      it("pages through users in (createdAt, id) order, each exactly once, while users are added", async () => {
        const ties = await Promise.all([1, 2, 3, 4].map(() => withUser({ createdAt: 1_500 })));
        const added: UserRecord[] = [];
        const later = Date.now() + 60_000;
        const { seen, last } = await walk(3, async (page) => {
          if (page.hasNextPage && added.length < 5) added.push(await withUser({ createdAt: later + added.length }));
        });
        const ids = seen.map((u) => u.id);
        expect(new Set(ids).size).toBe(ids.length);
        for (let i = 1; i < seen.length; i++) expect(compareUserPositions(seen[i - 1]!, seen[i]!)).toBeLessThan(0);
        const tieIds = ties.map((u) => u.id).sort();
        expect(ids.filter((id) => tieIds.includes(id))).toEqual(tieIds);
        expect(ids.slice(-added.length)).toEqual(added.map((u) => u.id));
        expect(last.totalCount).toBe(seen.length);
      });

      it("counts every user and says when no page follows", async () => {
        const { seen } = await walk(100);
        const first = await store.listUsers({ first: 1, after: null });
        expect(first.users).toHaveLength(1);
        expect(first.totalCount).toBe(seen.length);
        expect(first.hasNextPage).toBe(seen.length > 1);
        const end = await store.listUsers({ first: 5, after: seen.at(-1)! });
        expect(end).toEqual({ users: [], hasNextPage: false, totalCount: seen.length });
      });
    });

    describe("sessions", () => {
      it("creates a session that the access check sees as live", async () => {
        const user = await withUser();
        const created = await started(user.id);
        expect(created.createdAt).toBe(created.lastUsedAt);
        const state = await store.accessState(user.id, created.id, "some-jti");
        expect(state).toEqual({ user, session: created, cutoff: null, accessTokenRevoked: false });
      });

      it("refuses to start a session for a missing or disabled user", async () => {
        expect((await store.createSession(session(randomUUID()))).status).toBe("user_missing");
        const user = await withUser();
        await store.setUserDisabled(user.id, true);
        expect((await store.createSession(session(user.id))).status).toBe("user_disabled");
      });

      it("rotates with the current refresh jti and moves lastUsedAt and expiresAt", async () => {
        const user = await withUser();
        const created = await started(user.id);
        await h.advance(5);
        const nextExpiresAt = h.now() + 120_000;
        const result = await store.rotateSession({
          userId: user.id, sessionId: created.id, presentedJti: created.refreshJti, nextJti: "next", nextExpiresAt,
        });
        if (result.status !== "rotated") throw new Error(result.status);
        expect(result.user).toEqual(user);
        expect(result.session).toMatchObject({ id: created.id, refreshJti: "next", expiresAt: nextExpiresAt, createdAt: created.createdAt });
        expect(result.session.lastUsedAt).toBeGreaterThan(created.lastUsedAt);
      });

      it("ends the session when a rotated-out refresh jti is presented again", async () => {
        const user = await withUser();
        const created = await started(user.id);
        const rotate = (presentedJti: string, nextJti: string) =>
          store.rotateSession({ userId: user.id, sessionId: created.id, presentedJti, nextJti, nextExpiresAt: h.now() + 60_000 });
        expect((await rotate(created.refreshJti, "second")).status).toBe("rotated");
        expect((await rotate(created.refreshJti, "third")).status).toBe("reused");
        expect((await rotate("second", "fourth")).status).toBe("ended");
        expect((await store.accessState(user.id, created.id, "x")).session).toBeNull();
      });

      it("lets exactly one of many concurrent rotations with one refresh jti win", async () => {
        const user = await withUser();
        const created = await started(user.id);
        const results = await Promise.all(
          Array.from({ length: 20 }, (_, i) =>
            store.rotateSession({ userId: user.id, sessionId: created.id, presentedJti: created.refreshJti, nextJti: `n${i}`, nextExpiresAt: h.now() + 60_000 }),
          ),
        );
        expect(results.filter((r) => r.status === "rotated")).toHaveLength(1);
      });

      it("ends a session and revokes the given access token until it would have expired", async () => {
        const user = await withUser();
        const created = await started(user.id);
        expect(await store.endSession(user.id, created.id, { jti: "access-1", expiresAt: h.now() + 800 })).toBe(true);
        const state = await store.accessState(user.id, created.id, "access-1");
        expect(state.session).toBeNull();
        expect(state.accessTokenRevoked).toBe(true);
        expect(await store.endSession(user.id, created.id)).toBe(false);
        await h.advance(1_000);
        expect((await store.accessState(user.id, created.id, "access-1")).accessTokenRevoked).toBe(false);
      });

      it("does not end another user's session", async () => {
        const owner = await withUser();
        const other = await withUser();
        const created = await started(owner.id);
        expect(await store.endSession(other.id, created.id)).toBe(false);
        expect((await store.accessState(owner.id, created.id, "x")).session).not.toBeNull();
      });

      it("lists live sessions newest first", async () => {
        const user = await withUser();
        const first = await started(user.id, { device: "laptop" });
        await h.advance(5);
        const second = await started(user.id, { device: null });
        const ended = await started(user.id);
        await store.endSession(user.id, ended.id);
        expect((await store.listSessions(user.id)).map((s) => [s.id, s.device])).toEqual([
          [second.id, null],
          [first.id, "laptop"],
        ]);
      });

      it("expires a session with its refresh token", async () => {
        const user = await withUser();
        const created = await started(user.id, { expiresAt: h.now() + 500 });
        await h.advance(700);
        expect((await store.accessState(user.id, created.id, "x")).session).toBeNull();
        expect(await store.listSessions(user.id)).toEqual([]);
        const rotated = await store.rotateSession({ userId: user.id, sessionId: created.id, presentedJti: created.refreshJti, nextJti: "n", nextExpiresAt: h.now() + 1000 });
        expect(rotated.status).toBe("ended");
      });
    });

    describe("log out everywhere", () => {
      it("ends every session with one cutoff and counts the live ones", async () => {
        const user = await withUser();
        const a = await started(user.id);
        const b = await started(user.id);
        const gone = await started(user.id);
        await store.endSession(user.id, gone.id);
        expect(await store.endAllSessions(user.id)).toBe(2);
        for (const s of [a, b]) {
          const state = await store.accessState(user.id, s.id, "x");
          expect(state.cutoff).not.toBeNull();
          expect(state.session === null || state.session.createdAt <= state.cutoff!).toBe(true);
          const rotated = await store.rotateSession({ userId: user.id, sessionId: s.id, presentedJti: s.refreshJti, nextJti: "n", nextExpiresAt: h.now() + 1000 });
          expect(rotated.status).toBe("ended");
        }
        expect(await store.listSessions(user.id)).toEqual([]);
        expect(await store.endAllSessions(user.id)).toBe(0);
      });

      it("keeps a session started right after the cutoff, even within the same millisecond", async () => {
        const user = await withUser();
        await started(user.id);
        await store.endAllSessions(user.id);
        const fresh = await started(user.id);
        const state = await store.accessState(user.id, fresh.id, "x");
        expect(state.session!.createdAt).toBeGreaterThan(state.cutoff!);
        expect((await store.listSessions(user.id)).map((s) => s.id)).toEqual([fresh.id]);
      });

      it("does not touch other users", async () => {
        const user = await withUser();
        const other = await withUser();
        const kept = await started(other.id);
        await started(user.id);
        await store.endAllSessions(user.id);
        expect((await store.accessState(other.id, kept.id, "x")).cutoff).toBeNull();
        expect(await store.listSessions(other.id)).toHaveLength(1);
      });
    });

    describe("disabling users", () => {
      it("disables, ending every session, and enables again without reviving them", async () => {
        const user = await withUser();
        const before = await started(user.id);
        const disabled = await store.setUserDisabled(user.id, true);
        expect(disabled).toEqual({ ...user, disabled: true });
        expect((await store.getUser(user.id))!.disabled).toBe(true);
        expect((await store.rotateSession({ userId: user.id, sessionId: before.id, presentedJti: before.refreshJti, nextJti: "n", nextExpiresAt: h.now() + 1000 })).status).toBe("ended");
        expect((await store.setUserDisabled(user.id, false))!.disabled).toBe(false);
        expect(await store.listSessions(user.id)).toEqual([]);
        expect((await store.createSession(session(user.id))).status).toBe("created");
      });

      it("answers null for an unknown user", async () => {
        expect(await store.setUserDisabled(randomUUID(), true)).toBeNull();
      });
    });

    it("answers ping", async () => {
      await expect(store.ping()).resolves.toBeUndefined();
    });
  });
}
