import { randomUUID } from "node:crypto";
import { compareUserPositions, type NewSession, type RotateRequest, type Store, type UserPage, type UserPosition, type UserRecord } from "../../src/store/store";

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
    /** Strict (no grace window) unless the test says otherwise. */
    const rotate = (request: Omit<RotateRequest, "nextIssuedAt" | "graceMs"> & Partial<RotateRequest>) =>
      store.rotateSession({ nextIssuedAt: h.now(), graceMs: 0, ...request });
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

      it("reads many tokens' access states in one call, in the order asked", async () => {
        const [one, two] = [await withUser(), await withUser()];
        const [a, b] = [await started(one.id), await started(two.id)];
        await store.endSession(two.id, b.id);
        const states = await store.accessStates([
          { userId: one.id, sessionId: a.id, jti: "j1" },
          { userId: two.id, sessionId: b.id, jti: "j2" },
          { userId: randomUUID(), sessionId: "none", jti: "j3" },
        ]);
        expect(states).toEqual([
          { user: one, session: a, cutoff: null, accessTokenRevoked: false },
          { user: two, session: null, cutoff: null, accessTokenRevoked: false },
          { user: null, session: null, cutoff: null, accessTokenRevoked: false },
        ]);
        expect(await store.accessStates([])).toEqual([]);
      });

      it("refuses to start a session for a missing or disabled user", async () => {
        expect((await store.createSession(session(randomUUID()))).status).toBe("user_missing");
        const user = await withUser();
        await store.setUserDisabled(user.id, true);
        expect((await store.createSession(session(user.id))).status).toBe("user_disabled");
      });

      it("starts a login's session only while the password it checked is still the user's, and never stores it", async () => {
        const user = await withUser();
        const checked = "hash-of-" + user.id;
        const kept = await store.createSession({ ...session(user.id), passwordHash: checked });
        expect(kept.status).toBe("created");
        expect(JSON.stringify(kept)).not.toContain(checked);
        expect(JSON.stringify(await store.listSessions(user.id))).not.toContain(checked);
        await store.changePassword(user.id, "a new hash", kept.status === "created" ? kept.session.id : "");
        expect((await store.createSession({ ...session(user.id), passwordHash: checked })).status).toBe("credentials_changed");
        expect((await store.createSession({ ...session(user.id), passwordHash: "a new hash" })).status).toBe("created");
      });

      it("rotates with the current refresh jti and moves lastUsedAt and expiresAt", async () => {
        const user = await withUser();
        const created = await started(user.id);
        await h.advance(5);
        const nextExpiresAt = h.now() + 120_000;
        const result = await rotate({
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
        const rotateWith = (presentedJti: string, nextJti: string) =>
          rotate({ userId: user.id, sessionId: created.id, presentedJti, nextJti, nextExpiresAt: h.now() + 60_000 });
        expect((await rotateWith(created.refreshJti, "second")).status).toBe("rotated");
        expect((await rotateWith(created.refreshJti, "third")).status).toBe("reused");
        expect((await rotateWith("second", "fourth")).status).toBe("ended");
        expect((await store.accessState(user.id, created.id, "x")).session).toBeNull();
      });

      it("lets exactly one of many concurrent rotations with one refresh jti win", async () => {
        const user = await withUser();
        const created = await started(user.id);
        const results = await Promise.all(
          Array.from({ length: 20 }, (_, i) =>
            rotate({ userId: user.id, sessionId: created.id, presentedJti: created.refreshJti, nextJti: `n${i}`, nextExpiresAt: h.now() + 60_000 }),
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
        const rotated = await rotate({ userId: user.id, sessionId: created.id, presentedJti: created.refreshJti, nextJti: "n", nextExpiresAt: h.now() + 1000 });
        expect(rotated.status).toBe("ended");
      });
    });

    describe("refresh grace window", () => {
      const GRACE_MS = 5_000;
      const firstRotation = async () => {
        const user = await withUser();
        const created = await started(user.id);
        const nextExpiresAt = h.now() + 120_000;
        const rotated = await rotate({ userId: user.id, sessionId: created.id, presentedJti: created.refreshJti, nextJti: "second", nextExpiresAt, nextIssuedAt: 1_000, graceMs: GRACE_MS });
        if (rotated.status !== "rotated") throw new Error(rotated.status);
        return { user, created, rotated: rotated.session };
      };

      it("records what the rotation replaced, so its outcome can be handed out again", async () => {
        const { created, rotated } = await firstRotation();
        expect(rotated.rotation).toEqual({ previousJti: created.refreshJti, at: rotated.lastUsedAt, issuedAt: 1_000 });
      });

      it("gives the replaced jti the same outcome inside the window and changes nothing", async () => {
        const { user, created, rotated } = await firstRotation();
        const replay = await rotate({ userId: user.id, sessionId: created.id, presentedJti: created.refreshJti, nextJti: "other", nextExpiresAt: h.now() + 999_000, nextIssuedAt: 2_000, graceMs: GRACE_MS });
        expect(replay).toEqual({ status: "grace", session: rotated, user });
        expect((await store.accessState(user.id, created.id, "x")).session).toEqual(rotated);
        const next = await rotate({ userId: user.id, sessionId: created.id, presentedJti: "second", nextJti: "third", nextExpiresAt: h.now() + 60_000, graceMs: GRACE_MS });
        expect(next.status).toBe("rotated");
      });

      it("lets one of many concurrent rotations with one jti rotate and gives the rest its outcome", async () => {
        const user = await withUser();
        const created = await started(user.id);
        const results = await Promise.all(
          Array.from({ length: 20 }, (_, i) =>
            rotate({ userId: user.id, sessionId: created.id, presentedJti: created.refreshJti, nextJti: `n${i}`, nextExpiresAt: h.now() + 60_000, graceMs: GRACE_MS }),
          ),
        );
        const rotated = results.filter((r) => r.status === "rotated");
        expect(rotated).toHaveLength(1);
        expect(results.filter((r) => r.status === "grace")).toHaveLength(19);
        const jtis = new Set(results.map((r) => (r.status === "rotated" || r.status === "grace" ? r.session.refreshJti : null)));
        expect(jtis.size).toBe(1);
      });

      it("treats a jti two rotations back as reuse, even inside the window", async () => {
        const { user, created } = await firstRotation();
        expect((await rotate({ userId: user.id, sessionId: created.id, presentedJti: "second", nextJti: "third", nextExpiresAt: h.now() + 60_000, graceMs: GRACE_MS })).status).toBe("rotated");
        const grandparent = await rotate({ userId: user.id, sessionId: created.id, presentedJti: created.refreshJti, nextJti: "x", nextExpiresAt: h.now() + 60_000, graceMs: GRACE_MS });
        expect(grandparent.status).toBe("reused");
        expect((await store.accessState(user.id, created.id, "x")).session).toBeNull();
      });

      it("treats a replay after the window as reuse", async () => {
        const user = await withUser();
        const created = await started(user.id);
        const request = { userId: user.id, sessionId: created.id, presentedJti: created.refreshJti, nextJti: "n", nextExpiresAt: h.now() + 60_000, graceMs: 300 };
        expect((await rotate(request)).status).toBe("rotated");
        await h.advance(500);
        expect((await rotate(request)).status).toBe("reused");
        expect((await store.accessState(user.id, created.id, "x")).session).toBeNull();
      });

      it("does not revive a session that ended inside the window", async () => {
        for (const end of ["logout", "all", "disable"] as const) {
          const { user, created } = await firstRotation();
          if (end === "logout") await store.endSession(user.id, created.id);
          if (end === "all") await store.endAllSessions(user.id);
          if (end === "disable") await store.setUserDisabled(user.id, true);
          const replay = await rotate({ userId: user.id, sessionId: created.id, presentedJti: created.refreshJti, nextJti: "n", nextExpiresAt: h.now() + 60_000, graceMs: GRACE_MS });
          expect({ end, status: replay.status }).toEqual({ end, status: "ended" });
          const state = await store.accessState(user.id, created.id, "x");
          expect(state.session === null || state.session.createdAt <= state.cutoff!).toBe(true);
        }
      });
    });

    describe("ending the other sessions", () => {
      it("ends every session but the kept one and counts the live ones", async () => {
        const user = await withUser();
        const kept = await started(user.id);
        const others = [await started(user.id), await started(user.id)];
        const gone = await started(user.id);
        await store.endSession(user.id, gone.id);
        expect(await store.endOtherSessions(user.id, kept.id)).toBe(2);
        for (const other of others) {
          expect((await store.accessState(user.id, other.id, "x")).session).toBeNull();
          expect((await rotate({ userId: user.id, sessionId: other.id, presentedJti: other.refreshJti, nextJti: "n", nextExpiresAt: h.now() + 1000 })).status).toBe("ended");
        }
        expect((await store.listSessions(user.id)).map((s) => s.id)).toEqual([kept.id]);
        expect((await rotate({ userId: user.id, sessionId: kept.id, presentedJti: kept.refreshJti, nextJti: "n", nextExpiresAt: h.now() + 1000 })).status).toBe("rotated");
        expect(await store.endOtherSessions(user.id, kept.id)).toBe(0);
      });

      it("does not touch other users", async () => {
        const user = await withUser();
        const other = await withUser();
        const kept = await started(other.id);
        await store.endOtherSessions(user.id, (await started(user.id)).id);
        await store.endOtherSessions(user.id, "not-a-session");
        expect((await store.listSessions(other.id)).map((s) => s.id)).toEqual([kept.id]);
      });

      it("changes the password and ends the other sessions in one step", async () => {
        const user = await withUser();
        const kept = await started(user.id);
        const other = await started(user.id);
        expect(await store.changePassword(user.id, "new-hash", kept.id)).toBe(true);
        expect((await store.getCredentials(user.id))!.passwordHash).toBe("new-hash");
        expect((await store.accessState(user.id, other.id, "x")).session).toBeNull();
        expect((await store.accessState(user.id, kept.id, "x")).session).not.toBeNull();
      });

      it("changes nothing when the kept session is no longer live", async () => {
        const user = await withUser();
        const ended = await started(user.id);
        const other = await started(user.id);
        await store.endSession(user.id, ended.id);
        expect(await store.changePassword(user.id, "new-hash", ended.id)).toBe(false);
        expect((await store.getCredentials(user.id))!.passwordHash).toBe("hash-of-" + user.id);
        expect((await store.accessState(user.id, other.id, "x")).session).not.toBeNull();
      });
    });

    describe("roles and the enabled-admin index", () => {
      it("replaces a user's roles, seen by the next access check", async () => {
        const user = await withUser();
        const created = await started(user.id);
        expect(await store.setUserRoles(user.id, ["USER", "ADMIN"])).toEqual({ ...user, roles: ["USER", "ADMIN"] });
        expect((await store.accessState(user.id, created.id, "x")).user!.roles).toEqual(["USER", "ADMIN"]);
        expect((await store.setUserRoles(user.id, ["USER"]))!.roles).toEqual(["USER"]);
        expect(await store.getUser(user.id)).toEqual(user);
        expect(await store.setUserRoles(randomUUID(), ["USER"])).toBeNull();
      });

      it("refuses to remove the last enabled admin from the index, and anyone while it is empty", async () => {
        const [a, b] = [randomUUID(), randomUUID()];
        await store.addEnabledAdmin(a);
        await store.addEnabledAdmin(b);
        await store.addEnabledAdmin(b);
        expect(await store.removeEnabledAdmin(a, true)).toBe(true);
        expect(await store.removeEnabledAdmin(b, true)).toBe(false);
        expect(await store.removeEnabledAdmin(randomUUID(), true)).toBe(true);
        expect(await store.removeEnabledAdmin(b, false)).toBe(true);
        expect(await store.removeEnabledAdmin(b, true)).toBe(false);
      });

      it("lets all but one of many concurrent removals succeed", async () => {
        const ids = Array.from({ length: 6 }, () => randomUUID());
        for (const id of ids) await store.addEnabledAdmin(id);
        const results = await Promise.all(ids.map((id) => store.removeEnabledAdmin(id, true)));
        expect(results.filter(Boolean)).toHaveLength(5);
        await store.removeEnabledAdmin(ids[results.indexOf(false)]!, false);
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
          const rotated = await rotate({ userId: user.id, sessionId: s.id, presentedJti: s.refreshJti, nextJti: "n", nextExpiresAt: h.now() + 1000 });
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
        expect((await rotate({ userId: user.id, sessionId: before.id, presentedJti: before.refreshJti, nextJti: "n", nextExpiresAt: h.now() + 1000 })).status).toBe("ended");
        expect((await store.setUserDisabled(user.id, false))!.disabled).toBe(false);
        expect(await store.listSessions(user.id)).toEqual([]);
        expect((await store.createSession(session(user.id))).status).toBe("created");
      });

      it("answers null for an unknown user", async () => {
        expect(await store.setUserDisabled(randomUUID(), true)).toBeNull();
      });
    });

    describe("the session cap", () => {
      const startCapped = async (userId: string, max: number) => {
        await h.advance(5); // distinct creation times, so "oldest" is well defined
        const result = await store.createSession(session(userId), max);
        if (result.status !== "created") throw new Error(result.status);
        return Object.assign(result.session, { evicted: result.evicted });
      };

      it("ends the oldest live session when one more than the cap starts, in the same step", async () => {
        const user = await withUser();
        const first = await startCapped(user.id, 3);
        const second = await startCapped(user.id, 3);
        const third = await startCapped(user.id, 3);
        const fourth = await startCapped(user.id, 3);
        expect([first, second, third].map((s) => s.evicted)).toEqual([[], [], []]);
        expect(fourth.evicted).toEqual([first.id]);
        expect((await store.listSessions(user.id)).map((s) => s.id)).toEqual([fourth.id, third.id, second.id]);
        expect((await store.accessState(user.id, first.id, "x")).session).toBeNull();
        expect((await rotate({ userId: user.id, sessionId: first.id, presentedJti: first.refreshJti, nextJti: "n", nextExpiresAt: h.now() + 1000 })).status).toBe("ended");
      });

      it("never ends the session it starts, and counts only live sessions", async () => {
        const user = await withUser();
        const ended = await startCapped(user.id, 2);
        await store.endSession(user.id, ended.id);
        const kept = await startCapped(user.id, 2);
        const newest = await startCapped(user.id, 2);
        expect((await store.listSessions(user.id)).map((s) => s.id)).toEqual([newest.id, kept.id]);
        const only = await startCapped(user.id, 1);
        expect([...only.evicted].sort()).toEqual([newest.id, kept.id].sort());
        expect((await store.listSessions(user.id)).map((s) => s.id)).toEqual([only.id]);
      });

      it("does not cap without a limit", async () => {
        const user = await withUser();
        for (let i = 0; i < 4; i++) await started(user.id);
        expect(await store.listSessions(user.id)).toHaveLength(4);
      });
    });

    describe("throttle limiters", () => {
      it("counts hits per key, blocks and resets a key, keeping limiters and keys apart", async () => {
        const name = `contract-${randomUUID()}`;
        const limiter = store.limiter({ name, points: 3, windowSeconds: 60 });
        const other = store.limiter({ name: `${name}-other`, points: 3, windowSeconds: 60 });
        expect(await limiter.get("k")).toBeNull();
        expect((await limiter.hit("k")).count).toBe(1);
        const second = await limiter.hit("k");
        expect(second.count).toBe(2);
        expect(second.msLeft).toBeGreaterThan(50_000);
        expect(second.msLeft).toBeLessThanOrEqual(60_000);
        expect(await limiter.get("j")).toBeNull();
        expect(await other.get("k")).toBeNull();
        await limiter.refund("k");
        expect((await limiter.get("k"))!.count).toBe(1);
        await limiter.hit("k");

        await limiter.block("k", 30);
        const blocked = await limiter.get("k");
        expect(blocked!.count).toBeGreaterThan(3);
        expect(blocked!.msLeft).toBeGreaterThan(20_000);
        expect(blocked!.msLeft).toBeLessThanOrEqual(30_000);

        await limiter.reset("k");
        expect(await limiter.get("k")).toBeNull();
      });
    });

    it("answers ping", async () => {
      await expect(store.ping()).resolves.toBeUndefined();
    });
  });
}
