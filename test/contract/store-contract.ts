import { randomUUID } from "node:crypto";
import { compareUserPositions, isLiveSession, type AuditEntry, type AuditRetention, type AuditTail, type MailTokenPurpose, type MailTokenRecord, type NewSession, type PresentedMailToken, type PasskeyRecord, type RotateRequest, type WebAuthnChallenge, type Store, type UserPage, type UserPosition, type UserRecord } from "../../src/store/store";

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
      assurance: { aal: "aal1", amr: ["pwd"] },
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

      it("ends a session and revokes the given access token until it would have expired; answers with the session it ended", async () => {
        const user = await withUser();
        const created = await started(user.id, { device: "work laptop" });
        expect(await store.endSession(user.id, created.id, { jti: "access-1", expiresAt: h.now() + 800 })).toEqual(created);
        const state = await store.accessState(user.id, created.id, "access-1");
        expect(state.session).toBeNull();
        expect(state.accessTokenRevoked).toBe(true);
        expect(await store.endSession(user.id, created.id)).toBeNull();
        await h.advance(1_000);
        expect((await store.accessState(user.id, created.id, "access-1")).accessTokenRevoked).toBe(false);
      });

      it("does not end another user's session", async () => {
        const owner = await withUser();
        const other = await withUser();
        const created = await started(owner.id);
        expect(await store.endSession(other.id, created.id)).toBeNull();
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

    describe("assurance and step-up", () => {
      const AAL2 = { aal: "aal2", amr: ["pwd", "otp"] } as const;
      const stepUp = (userId: string, sessionId: string, nextJti: string = randomUUID()) =>
        store.stepUpSession({ userId, sessionId, assurance: AAL2, nextJti, nextExpiresAt: h.now() + 120_000, authenticatedAt: h.now() });

      it("keeps the assurance a session started with, through every rotation", async () => {
        const user = await withUser();
        const created = await started(user.id);
        expect(created.assurance).toEqual({ aal: "aal1", amr: ["pwd"] });
        const rotated = await rotate({ userId: user.id, sessionId: created.id, presentedJti: created.refreshJti, nextJti: "n", nextExpiresAt: h.now() + 60_000 });
        expect(rotated.status === "rotated" && rotated.session.assurance).toEqual({ aal: "aal1", amr: ["pwd"] });
        expect((await store.listSessions(user.id))[0]!.assurance).toEqual({ aal: "aal1", amr: ["pwd"] });
      });

      it("raises the session with a new refresh jti, its expiry moved, seen by the next access check", async () => {
        const user = await withUser();
        const created = await started(user.id);
        const result = await stepUp(user.id, created.id, "family-2");
        if (result.status !== "raised") throw new Error(result.status);
        expect(result.user).toEqual(user);
        expect(result.session).toMatchObject({ id: created.id, assurance: AAL2, refreshJti: "family-2", createdAt: created.createdAt });
        expect(result.session.rotation).toBeUndefined();
        expect((await store.accessState(user.id, created.id, "x")).session).toEqual(result.session);
        const next = await rotate({ userId: user.id, sessionId: created.id, presentedJti: "family-2", nextJti: "family-2b", nextExpiresAt: h.now() + 60_000 });
        expect(next.status === "rotated" && next.session.assurance).toEqual(AAL2);
      });

      it("refuses the refresh jti from before the step-up as reuse, even inside the grace window", async () => {
        const user = await withUser();
        const created = await started(user.id);
        const first = await rotate({ userId: user.id, sessionId: created.id, presentedJti: created.refreshJti, nextJti: "aal1-second", nextExpiresAt: h.now() + 60_000, graceMs: 60_000 });
        expect(first.status).toBe("rotated");
        expect((await stepUp(user.id, created.id)).status).toBe("raised");
        const replay = await rotate({ userId: user.id, sessionId: created.id, presentedJti: created.refreshJti, nextJti: "x", nextExpiresAt: h.now() + 60_000, graceMs: 60_000 });
        expect(replay.status).toBe("reused");
        expect((await store.accessState(user.id, created.id, "x")).session).toBeNull();
      });

      it("refuses the current aal1 refresh jti after the step-up", async () => {
        const user = await withUser();
        const created = await started(user.id);
        expect((await stepUp(user.id, created.id)).status).toBe("raised");
        const replay = await rotate({ userId: user.id, sessionId: created.id, presentedJti: created.refreshJti, nextJti: "x", nextExpiresAt: h.now() + 60_000, graceMs: 60_000 });
        expect(replay.status).toBe("reused");
      });

      it("raises nothing for an ended session, a cut-off one or a disabled user", async () => {
        const user = await withUser();
        const ended = await started(user.id);
        await store.endSession(user.id, ended.id);
        expect(await stepUp(user.id, ended.id)).toEqual({ status: "ended" });
        const cut = await started(user.id);
        await store.endAllSessions(user.id);
        expect(await stepUp(user.id, cut.id)).toEqual({ status: "ended" });
        const live = await started(user.id);
        await store.setUserDisabled(user.id, true);
        expect(await stepUp(user.id, live.id)).toEqual({ status: "ended" });
        expect(await stepUp(user.id, "no-such-session")).toEqual({ status: "ended" });
      });
    });

    describe("recent authentication", () => {
      const AAL2 = { aal: "aal2", amr: ["pwd", "otp"] } as const;

      it("keeps the sign-in's authenticatedAt, through every rotation", async () => {
        const user = await withUser();
        const created = await started(user.id, { authenticatedAt: 1_000 });
        expect(created.authenticatedAt).toBe(1_000);
        const rotated = await rotate({ userId: user.id, sessionId: created.id, presentedJti: created.refreshJti, nextJti: "n", nextExpiresAt: h.now() + 60_000 });
        expect(rotated.status === "rotated" && rotated.session.authenticatedAt).toBe(1_000);
        expect((await store.accessState(user.id, created.id, "x")).session?.authenticatedAt).toBe(1_000);
      });

      it("stamps a step-up as an authentication, never moving it back", async () => {
        const user = await withUser();
        const created = await started(user.id, { authenticatedAt: 5_000 });
        const raised = await store.stepUpSession({ userId: user.id, sessionId: created.id, assurance: AAL2, nextJti: "s1", nextExpiresAt: h.now() + 60_000, authenticatedAt: 9_000 });
        expect(raised.status === "raised" && raised.session.authenticatedAt).toBe(9_000);
        const again = await store.stepUpSession({ userId: user.id, sessionId: created.id, assurance: AAL2, nextJti: "s2", nextExpiresAt: h.now() + 60_000, authenticatedAt: 7_000 });
        expect(again.status === "raised" && again.session.authenticatedAt).toBe(9_000);
      });

      it("marks a live session authenticated, seen by the next access check, keeping everything else", async () => {
        const user = await withUser();
        const created = await started(user.id, { authenticatedAt: 1_000 });
        expect(await store.markSessionAuthenticated(user.id, created.id, 2_000)).toBe(true);
        const read = (await store.accessState(user.id, created.id, "x")).session;
        expect(read).toEqual({ ...created, authenticatedAt: 2_000 });
        // Never moved back: a slower instance's older stamp loses.
        expect(await store.markSessionAuthenticated(user.id, created.id, 1_500)).toBe(true);
        expect((await store.accessState(user.id, created.id, "x")).session?.authenticatedAt).toBe(2_000);
        // The refresh token still rotates: the mark starts no new family.
        const rotated = await rotate({ userId: user.id, sessionId: created.id, presentedJti: created.refreshJti, nextJti: "n", nextExpiresAt: h.now() + 60_000 });
        expect(rotated.status === "rotated" && rotated.session.authenticatedAt).toBe(2_000);
      });

      it("marks a session that had no stamp (begun before it was recorded)", async () => {
        const user = await withUser();
        const created = await started(user.id);
        expect(created.authenticatedAt).toBeUndefined();
        expect(await store.markSessionAuthenticated(user.id, created.id, 3_000)).toBe(true);
        expect((await store.accessState(user.id, created.id, "x")).session?.authenticatedAt).toBe(3_000);
      });

      it("marks nothing for an ended session, a cut-off one, a disabled user or an unknown session", async () => {
        const user = await withUser();
        const ended = await started(user.id);
        await store.endSession(user.id, ended.id);
        expect(await store.markSessionAuthenticated(user.id, ended.id, 1)).toBe(false);
        expect((await store.accessState(user.id, ended.id, "x")).session).toBeNull();
        const cut = await started(user.id);
        await store.endAllSessions(user.id);
        expect(await store.markSessionAuthenticated(user.id, cut.id, 1)).toBe(false);
        const live = await started(user.id);
        await store.setUserDisabled(user.id, true);
        expect(await store.markSessionAuthenticated(user.id, live.id, 1)).toBe(false);
        expect(await store.markSessionAuthenticated(user.id, "no-such-session", 1)).toBe(false);
        expect(await store.markSessionAuthenticated(randomUUID(), "no-such-session", 1)).toBe(false);
      });
    });

    describe("second factor", () => {
      const enrolled = async (sealedSecret = `sealed-${randomUUID()}`) => {
        const user = await withUser();
        await store.saveTotpEnrolment(user.id, sealedSecret, h.now() + 60_000);
        return { user, sealedSecret };
      };
      const enabled = async () => {
        const { user, sealedSecret } = await enrolled();
        expect(await store.enableTotp({ userId: user.id, sealedSecret, acceptedStep: 100, recoveryCodeHashes: ["h1", "h2", "h3"] })).toBe("enabled");
        return { user, sealedSecret };
      };

      it("keeps an enrolment until it expires, the newest one winning", async () => {
        const { user } = await enrolled("first");
        await store.saveTotpEnrolment(user.id, "second", h.now() + 300);
        expect(await store.getTotpEnrolment(user.id)).toBe("second");
        await h.advance(500);
        expect(await store.getTotpEnrolment(user.id)).toBeNull();
      });

      it("enables the enrolled factor with its recovery codes and marks the user, in one step", async () => {
        const { user, sealedSecret } = await enabled();
        expect(await store.getTotp(user.id)).toEqual({ sealedSecret, lastStep: 100, failures: 0 });
        expect(await store.getTotpEnrolment(user.id)).toBeNull();
        expect((await store.getUser(user.id))!.mfaEnabled).toBe(true);
        expect((await store.accessState(user.id, "s", "j")).user!.mfaEnabled).toBe(true);
      });

      it("enables only the enrolment still pending, once, for an existing user", async () => {
        const { user } = await enrolled("pending");
        expect(await store.enableTotp({ userId: user.id, sealedSecret: "stale", acceptedStep: 1, recoveryCodeHashes: [] })).toBe("no_enrolment");
        expect(await store.enableTotp({ userId: user.id, sealedSecret: "pending", acceptedStep: 1, recoveryCodeHashes: [] })).toBe("enabled");
        await store.saveTotpEnrolment(user.id, "again", h.now() + 60_000);
        expect(await store.enableTotp({ userId: user.id, sealedSecret: "again", acceptedStep: 2, recoveryCodeHashes: [] })).toBe("already_enabled");
        expect(await store.enableTotp({ userId: randomUUID(), sealedSecret: "x", acceptedStep: 1, recoveryCodeHashes: [] })).toBe("user_missing");
      });

      it("accepts each step once and only after the last accepted one", async () => {
        const { user } = await enabled();
        expect(await store.acceptTotpStep(user.id, 100, 100)).toBe("replayed");
        expect(await store.acceptTotpStep(user.id, 99, 100)).toBe("replayed");
        expect(await store.acceptTotpStep(user.id, 101, 100, "resealed")).toBe("accepted");
        expect(await store.acceptTotpStep(user.id, 101, 100)).toBe("replayed");
        expect(await store.getTotp(user.id)).toEqual({ sealedSecret: "resealed", lastStep: 101, failures: 0 });
        expect(await store.acceptTotpStep(randomUUID(), 1, 100)).toBe("not_enabled");
      });

      it("lets exactly one of many concurrent acceptances of one step win", async () => {
        const { user } = await enabled();
        const results = await Promise.all(Array.from({ length: 20 }, () => store.acceptTotpStep(user.id, 200, 100)));
        expect(results.filter((r) => r === "accepted")).toHaveLength(1);
      });

      it("counts failures, locks at the limit, and clears them on an accepted code or a recovery code", async () => {
        const { user } = await enabled();
        expect(await store.recordTotpFailure(user.id)).toBe(1);
        expect(await store.recordTotpFailure(user.id)).toBe(2);
        expect(await store.acceptTotpStep(user.id, 300, 2)).toBe("locked");
        expect(await store.acceptTotpStep(user.id, 300, 3)).toBe("accepted");
        expect((await store.getTotp(user.id))!.failures).toBe(0);
        await store.recordTotpFailure(user.id);
        expect(await store.useRecoveryCode(user.id, "h1")).toBe(2);
        expect((await store.getTotp(user.id))!.failures).toBe(0);
      });

      it("spends each recovery code once, even when used concurrently", async () => {
        const { user } = await enabled();
        const results = await Promise.all(Array.from({ length: 10 }, () => store.useRecoveryCode(user.id, "h2")));
        expect(results.filter((r) => r !== null)).toEqual([2]);
        expect(await store.useRecoveryCode(user.id, "unknown")).toBeNull();
      });

      it("replaces the recovery codes only while a factor is on", async () => {
        const { user } = await enabled();
        expect(await store.replaceRecoveryCodes(user.id, ["n1", "n2"])).toBe(true);
        expect(await store.useRecoveryCode(user.id, "h1")).toBeNull();
        expect(await store.useRecoveryCode(user.id, "n1")).toBe(1);
        const other = await withUser();
        expect(await store.replaceRecoveryCodes(other.id, ["x"])).toBe(false);
        expect(await store.useRecoveryCode(other.id, "x")).toBeNull();
      });

      it("disables the factor with everything that belongs to it, and says whether one was on", async () => {
        const { user } = await enabled();
        await store.saveTotpEnrolment(user.id, "pending", h.now() + 60_000);
        expect(await store.disableMfa(user.id)).toBe(true);
        expect(await store.getTotp(user.id)).toBeNull();
        expect(await store.getTotpEnrolment(user.id)).toBeNull();
        expect(await store.useRecoveryCode(user.id, "h3")).toBeNull();
        expect((await store.getUser(user.id))!.mfaEnabled).toBe(false);
        expect(await store.disableMfa(user.id)).toBe(false);
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

      // The index is shared by every test of the suite: each test leaves it as it found it.
      const admins = async (count: number) => {
        const users = await Promise.all(Array.from({ length: count }, () => withUser()));
        for (const user of users) expect((await store.changeAccess(user.id, { roles: ["USER", "ADMIN"] }, false)).status).toBe("changed");
        return users;
      };
      const release = async (ids: string[]) => {
        for (const id of ids) await store.changeAccess(id, { roles: ["USER"], disabled: false }, false);
      };

      it("refuses, with the guard, a change that leaves no enabled admin, and changes nothing then", async () => {
        const [a, b] = await admins(2);
        const session = await started(b!.id);
        expect(await store.changeAccess(a!.id, { roles: ["USER"] }, true)).toEqual({ status: "changed", user: { ...a, roles: ["USER"] } });
        expect(await store.changeAccess(b!.id, { roles: ["USER"] }, true)).toEqual({ status: "last_admin" });
        expect(await store.changeAccess(b!.id, { disabled: true }, true)).toEqual({ status: "last_admin" });
        expect(await store.getUser(b!.id)).toEqual({ ...b, roles: ["USER", "ADMIN"] });
        expect((await store.accessState(b!.id, session.id, "x")).session).not.toBeNull();
        const disabled = await store.changeAccess(b!.id, { disabled: true }, false);
        expect(disabled).toEqual({ status: "changed", user: { ...b, roles: ["USER", "ADMIN"], disabled: true } });
        expect(await store.listSessions(b!.id)).toEqual([]);
        await release([a!.id, b!.id]);
      });

      it("answers user_missing for an unknown user", async () => {
        expect(await store.changeAccess(randomUUID(), { disabled: true }, true)).toEqual({ status: "user_missing" });
      });

      it("lets all but one of many concurrent guarded changes succeed, whatever their kind", async () => {
        const users = await admins(6);
        const results = await Promise.all(
          users.map((user, i) => store.changeAccess(user.id, i % 2 ? { disabled: true } : { roles: ["USER"] }, true)),
        );
        expect(results.filter((result) => result.status === "changed")).toHaveLength(5);
        const kept = users[results.findIndex((result) => result.status === "last_admin")]!;
        expect(await store.getUser(kept.id)).toMatchObject({ roles: ["USER", "ADMIN"], disabled: false });
        await release(users.map((user) => user.id));
      });

      it("applies the last of two concurrent changes of one user to its record", async () => {
        const [a, b] = await admins(2);
        await Promise.all([store.changeAccess(b!.id, { disabled: true }, true), store.changeAccess(b!.id, { roles: ["USER", "ADMIN"] }, true)]);
        expect(await store.getUser(b!.id)).toMatchObject({ roles: ["USER", "ADMIN"], disabled: true });
        expect((await store.changeAccess(a!.id, { roles: ["USER"] }, true)).status).toBe("last_admin");
        await release([a!.id, b!.id]);
      });
    });

    describe("the key-set version", () => {
      it("keeps the last version published, for verifiers to compare with theirs", async () => {
        await store.publishKeySetVersion("first");
        await store.publishKeySetVersion("second");
        expect(await store.keySetVersion()).toBe("second");
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

    describe("sessions waiting for a second factor (pending)", () => {
      const AAL2 = { aal: "aal2", amr: ["pwd", "otp"] } as const;
      const pendingFor = (ms: number, maxPerUser = 2) => ({ expiresAt: h.now() + ms, maxPerUser });
      const start = async (userId: string, overrides: Partial<NewSession> = {}, pending = pendingFor(60_000)) => {
        await h.advance(5); // distinct creation times, so "oldest" is well defined
        const result = await store.createSession(session(userId, overrides), 2, pending);
        if (result.status !== "created") throw new Error(result.status);
        return Object.assign(result.session, { evicted: result.evicted });
      };
      const live = async (userId: string, sessionId: string) => {
        const state = await store.accessState(userId, sessionId, "x");
        return isLiveSession(state.session, state.cutoff);
      };

      it("starts an aal1 session of a user with a second factor on as pending, ending at its own expiry", async () => {
        const user = await withUser({ mfaEnabled: true });
        const pending = await start(user.id, { expiresAt: h.now() + 60_000 }, pendingFor(400));
        expect(pending.pending).toBe(true);
        expect(pending.expiresAt).toBeLessThanOrEqual(h.now() + 400);
        expect(await live(user.id, pending.id)).toBe(true);
        expect(await store.listSessions(user.id)).toEqual([]);
        await h.advance(600);
        expect(await live(user.id, pending.id)).toBe(false);
      });

      it("starts a full session at aal2, for a user without a second factor, or without pending limits", async () => {
        const enrolled = await withUser({ mfaEnabled: true });
        const plain = await withUser();
        expect((await start(enrolled.id, { assurance: AAL2 })).pending).toBeUndefined();
        expect((await start(plain.id)).pending).toBeUndefined();
        const unlimited = await store.createSession(session(enrolled.id));
        expect(unlimited.status === "created" && unlimited.session.pending).toBeUndefined();
      });

      it("caps pending sessions among themselves: they never end a full session, nor count toward its cap", async () => {
        const user = await withUser({ mfaEnabled: true });
        const full = [await start(user.id, { assurance: AAL2 }), await start(user.id, { assurance: AAL2 })];
        const pending = [];
        for (let i = 0; i < 5; i++) pending.push(await start(user.id));
        expect(pending.map((p) => p.evicted)).toEqual([[], [], [pending[0]!.id], [pending[1]!.id], [pending[2]!.id]]);
        for (const kept of full) expect(await live(user.id, kept.id)).toBe(true);
        expect((await store.listSessions(user.id)).map((s) => s.id)).toEqual([full[1]!.id, full[0]!.id]);
        // A third full session ends the oldest full one, never a pending one.
        const third = await start(user.id, { assurance: AAL2 });
        expect(third.evicted).toEqual([full[0]!.id]);
        for (const waiting of pending.slice(3)) expect(await live(user.id, waiting.id)).toBe(true);
      });

      it("keeps a pending session's expiry through refreshes", async () => {
        const user = await withUser({ mfaEnabled: true });
        const pending = await start(user.id, {}, pendingFor(30_000));
        const rotated = await rotate({ userId: user.id, sessionId: pending.id, presentedJti: pending.refreshJti, nextJti: "n", nextExpiresAt: h.now() + 600_000 });
        if (rotated.status !== "rotated") throw new Error(rotated.status);
        expect(rotated.session).toMatchObject({ pending: true, expiresAt: pending.expiresAt });
      });

      it("makes a pending session full at the step-up, under the cap of full sessions, which may end the oldest full one", async () => {
        const user = await withUser({ mfaEnabled: true });
        const full = [await start(user.id, { assurance: AAL2 }), await start(user.id, { assurance: AAL2 })];
        const pending = await start(user.id);
        const raised = await store.stepUpSession({ userId: user.id, sessionId: pending.id, assurance: AAL2, nextJti: "aal2", nextExpiresAt: h.now() + 120_000, maxPerUser: 2, authenticatedAt: h.now() });
        if (raised.status !== "raised") throw new Error(raised.status);
        expect(raised.upgraded).toBe(true);
        expect(raised.evicted).toEqual([full[0]!.id]);
        expect(raised.session.pending).toBeUndefined();
        expect(raised.session.expiresAt).toBeGreaterThan(h.now() + 100_000);
        expect((await store.listSessions(user.id)).map((s) => s.id)).toEqual([pending.id, full[1]!.id]);
        expect(await live(user.id, full[0]!.id)).toBe(false);
        const again = await store.stepUpSession({ userId: user.id, sessionId: pending.id, assurance: AAL2, nextJti: "aal2b", nextExpiresAt: h.now() + 120_000, maxPerUser: 1, authenticatedAt: h.now() });
        expect(again.status === "raised" && [again.upgraded, again.evicted]).toEqual([false, []]);
      });

      it("ends pending sessions with every session on log out everywhere", async () => {
        const user = await withUser({ mfaEnabled: true });
        const pending = await start(user.id);
        await store.endAllSessions(user.id);
        expect(await live(user.id, pending.id)).toBe(false);
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

    describe("the audit trail", () => {
      const retention: AuditRetention = { maxAgeMs: 3_600_000, maxPerUser: 1000, maxGlobal: 100_000 };
      const entry = (overrides: Partial<AuditEntry> = {}): AuditEntry => ({
        eventId: randomUUID(),
        type: "SIGNED_IN",
        actorId: null,
        userId: randomUUID(),
        sessionId: randomUUID(),
        clientIp: "203.0.113.7",
        userAgent: "Mozilla/5.0 (contract)",
        device: "phone",
        details: { via: "password" },
        ...overrides,
      });
      const read = (userId: string | null, more: Partial<{ before: string; from: number; to: number; count: number }> = {}) =>
        store.readAuditEvents({ userId, before: more.before ?? null, from: more.from ?? null, to: more.to ?? null, count: more.count ?? 100 });

      it("appends an event to its user's stream and the global one, every field kept, stamped by the store", async () => {
        const event = entry({ actorId: randomUUID(), details: { disabled: true, roles: ["USER"] } });
        const before = h.now();
        await store.appendAuditEvent(event, retention);
        const [mine] = await read(event.userId);
        expect(mine).toEqual({ ...event, id: expect.stringMatching(/^\d+-\d+$/), at: expect.any(Number) });
        expect(mine!.at).toBeGreaterThanOrEqual(before - 1000);
        expect(mine!.at).toBeLessThanOrEqual(h.now() + 1000);
        // Each stream numbers its own entries: the global copy carries the same event under its own id.
        expect((await read(null, { count: 1 }))[0]).toEqual({ ...event, id: expect.any(String), at: expect.any(Number) });
      });

      it("keeps an event about nobody in the global stream only, with absent fields null", async () => {
        const event = entry({ type: "LOGIN_FAILED", userId: null, sessionId: null, userAgent: null, device: null, details: {} });
        await store.appendAuditEvent(event, retention);
        expect((await read(null, { count: 1 }))[0]).toMatchObject(event);
      });

      it("reads newest first, a page after a given id, and within a time range", async () => {
        const userId = randomUUID();
        for (let i = 0; i < 5; i++) {
          await store.appendAuditEvent(entry({ userId, details: { i } }), retention);
          await h.advance(2);
        }
        const all = await read(userId);
        expect(all.map((e) => e.details.i)).toEqual([4, 3, 2, 1, 0]);
        expect((await read(userId, { before: all[1]!.id, count: 2 })).map((e) => e.details.i)).toEqual([2, 1]);
        expect((await read(userId, { from: all[3]!.at, to: all[1]!.at })).map((e) => e.details.i)).toEqual([3, 2, 1]);
        expect(await read(randomUUID())).toEqual([]);
      });

      it("trims a user's stream to about maxPerUser events, keeping the newest", async () => {
        const userId = randomUUID();
        for (let i = 0; i < 400; i++) await store.appendAuditEvent(entry({ userId, details: { i } }), { ...retention, maxPerUser: 50 });
        const kept = await read(userId, { count: 1000 });
        expect(kept.length).toBeGreaterThanOrEqual(50);
        expect(kept.length).toBeLessThan(250);
        expect(kept[0]!.details.i).toBe(399);
      });

      it("keeps a user's attempts in a stream of their own: a flood of them leaves the history in place", async () => {
        const userId = randomUUID();
        const small = { ...retention, maxPerUser: 50 };
        await store.appendAuditEvent(entry({ userId, details: { own: "first" } }), small, "history");
        for (let i = 0; i < 400; i++) await store.appendAuditEvent(entry({ userId, type: "LOGIN_FAILED", details: { i } }), small, "attempts");
        await store.appendAuditEvent(entry({ userId, details: { own: "last" } }), small);
        const kept = await read(userId, { count: 1000 });
        expect(kept.filter((e) => e.type === "SIGNED_IN").map((e) => e.details.own)).toEqual(["last", "first"]);
        const attempts = kept.filter((e) => e.type === "LOGIN_FAILED");
        expect(attempts.length).toBeGreaterThanOrEqual(50);
        expect(attempts.length).toBeLessThan(250);
        expect(attempts[0]!.details.i).toBe(399);
        expect(kept[0]!.details.own).toBe("last");
        // The global stream holds every event, in the order written.
        expect((await read(null, { count: 2 })).map((e) => e.details.own ?? e.details.i)).toEqual(["last", 399]);
      });

      it("reads a user's two streams as one, newest first, under ids that never coincide, page after page", async () => {
        const userId = randomUUID();
        // Written back to back, many in one millisecond: the two streams' ids must still differ.
        for (let i = 0; i < 40; i++) await store.appendAuditEvent(entry({ userId, details: { i } }), retention, i % 3 === 0 ? "attempts" : "history");
        const all = await read(userId);
        expect(all.map((e) => e.details.i)).toEqual(Array.from({ length: 40 }, (_, i) => 39 - i));
        expect(new Set(all.map((e) => e.id)).size).toBe(40);
        const paged: unknown[] = [];
        let before: string | undefined;
        for (;;) {
          const page = await read(userId, { count: 7, ...(before ? { before } : {}) });
          paged.push(...page.map((e) => e.details.i));
          if (page.length < 7) break;
          before = page.at(-1)!.id;
        }
        expect(paged).toEqual(all.map((e) => e.details.i));
      });

      it("trims events older than maxAgeMs, and drops a stream whose newest event is that old", async () => {
        const userId = randomUUID();
        for (let i = 0; i < 300; i++) await store.appendAuditEvent(entry({ userId, details: { i } }), retention);
        await h.advance(60);
        await store.appendAuditEvent(entry({ userId, details: { i: 300 } }), { ...retention, maxAgeMs: 30 });
        const kept = await read(userId, { count: 1000 });
        expect(kept[0]!.details.i).toBe(300);
        expect(kept.length).toBeLessThan(300);
        await h.advance(60);
        expect(await read(userId)).toEqual([]);
      });
    });

    describe("the audit tail", () => {
      const retention: AuditRetention = { maxAgeMs: 3_600_000, maxPerUser: 1000, maxGlobal: 100_000 };
      const entry = (userId: string, i: number): AuditEntry => ({
        eventId: randomUUID(),
        type: "SIGNED_IN",
        actorId: null,
        userId,
        sessionId: randomUUID(),
        clientIp: "203.0.113.8",
        userAgent: "Mozilla/5.0 (tail)",
        device: "phone",
        details: { i },
      });
      const tails: AuditTail[] = [];
      const open = async () => {
        const tail = await store.openAuditTail();
        tails.push(tail);
        return tail;
      };
      afterEach(() => tails.splice(0).forEach((tail) => tail.close()));

      it("reads only what was appended after it opened, oldest first, as readAuditEvents gives it", async () => {
        const userId = randomUUID();
        await store.appendAuditEvent(entry(userId, 0), retention);
        const tail = await open();
        for (let i = 1; i <= 3; i++) await store.appendAuditEvent(entry(userId, i), retention);
        const read = await tail.read(1000, 100);
        expect(read.map((record) => record.details.i)).toEqual([1, 2, 3]);
        const stored = await store.readAuditEvents({ userId: null, before: null, from: null, to: null, count: 3 });
        expect(read).toEqual(stored.reverse());
      });

      it("waits for the next append, up to blockMs, and answers empty when none comes", async () => {
        const tail = await open();
        const started = Date.now();
        expect(await tail.read(150, 10)).toEqual([]);
        expect(Date.now() - started).toBeGreaterThanOrEqual(100);
        const userId = randomUUID();
        const waiting = tail.read(5000, 10);
        setTimeout(() => void store.appendAuditEvent(entry(userId, 7), retention), 50);
        const [record] = await waiting;
        expect(record).toMatchObject({ userId, details: { i: 7 } });
        expect(Date.now() - started).toBeLessThan(2000);
      });

      it("hands over a burst in reads of at most count, skipping and repeating nothing", async () => {
        const userId = randomUUID();
        const tail = await open();
        for (let i = 0; i < 250; i++) await store.appendAuditEvent(entry(userId, i), retention);
        const seen: unknown[] = [];
        for (let reads = 0; seen.length < 250 && reads < 10; reads++) {
          const batch = await tail.read(1000, 100);
          expect(batch.length).toBeLessThanOrEqual(100);
          seen.push(...batch.map((record) => record.details.i));
        }
        expect(seen).toEqual(Array.from({ length: 250 }, (_, i) => i));
      });

      it("keeps each tail's own position", async () => {
        const userId = randomUUID();
        const first = await open();
        await store.appendAuditEvent(entry(userId, 1), retention);
        const second = await open();
        await store.appendAuditEvent(entry(userId, 2), retention);
        expect((await first.read(1000, 10)).map((record) => record.details.i)).toEqual([1, 2]);
        expect((await second.read(1000, 10)).map((record) => record.details.i)).toEqual([2]);
      });

      it("ends a pending read at once, empty, when closed", async () => {
        const tail = await open();
        const started = Date.now();
        const waiting = tail.read(8000, 10);
        setTimeout(() => tail.close(), 50);
        expect(await waiting).toEqual([]);
        expect(Date.now() - started).toBeLessThan(2000);
        expect(await tail.read(8000, 10)).toEqual([]);
      });
    });

    describe("passkeys", () => {
      const passkey = (userId: string, overrides: Partial<PasskeyRecord> = {}): PasskeyRecord => ({
        id: randomUUID().replace(/-/g, ""),
        userId,
        name: "laptop",
        publicKey: "pQECAyYgASFYIA",
        counter: 0,
        transports: [],
        backupEligible: false,
        backedUp: false,
        createdAt: h.now(),
        lastUsedAt: null,
        ...overrides,
      });

      it("adds a passkey under its user and finds its owner by credential id; one credential id has one owner", async () => {
        const user = await withUser();
        const other = await withUser();
        const key = passkey(user.id, { transports: ["internal", "hybrid"] });
        expect(await store.addPasskey(key, 10)).toBe("added");
        expect(await store.passkeyOwner(key.id)).toBe(user.id);
        expect(await store.getPasskey(user.id, key.id)).toEqual(key);
        expect(await store.listPasskeys(user.id)).toEqual([key]);
        expect(await store.addPasskey({ ...key, userId: other.id }, 10)).toBe("taken");
        expect(await store.addPasskey(key, 10)).toBe("taken");
        expect(await store.passkeyOwner(key.id)).toBe(user.id);
        expect(await store.listPasskeys(other.id)).toEqual([]);
        expect(await store.passkeyOwner("nobody-holds-this")).toBeNull();
      });

      it("refuses a passkey for a missing user, or beyond the limit, and leaves its credential id free", async () => {
        const missing = passkey(randomUUID());
        expect(await store.addPasskey(missing, 10)).toBe("user_missing");
        expect(await store.passkeyOwner(missing.id)).toBeNull();
        const user = await withUser();
        expect(await store.addPasskey(passkey(user.id), 1)).toBe("added");
        const extra = passkey(user.id);
        expect(await store.addPasskey(extra, 1)).toBe("limit");
        expect(await store.passkeyOwner(extra.id)).toBeNull();
      });

      it("renames a passkey, keeping an empty transports list a list", async () => {
        const user = await withUser();
        const key = passkey(user.id);
        await store.addPasskey(key, 10);
        expect(await store.renamePasskey(user.id, key.id, "phone")).toEqual({ ...key, name: "phone" });
        expect(await store.getPasskey(user.id, key.id)).toEqual({ ...key, name: "phone" });
        expect(await store.renamePasskey(user.id, "missing", "x")).toBeNull();
      });

      it("takes a counter that goes up and refuses one that does not, unless both are 0", async () => {
        const user = await withUser();
        const counting = passkey(user.id, { counter: 5 });
        await store.addPasskey(counting, 10);
        const used = await store.usePasskey(user.id, counting.id, 6);
        expect(used).toMatchObject({ status: "used", passkey: { counter: 6, transports: [] } });
        expect(used.status === "used" && used.passkey.lastUsedAt).toBeGreaterThan(0);
        expect(await store.usePasskey(user.id, counting.id, 6)).toMatchObject({ status: "counter_regressed", passkey: { counter: 6 } });
        expect(await store.usePasskey(user.id, counting.id, 2)).toMatchObject({ status: "counter_regressed" });
        expect(await store.usePasskey(user.id, counting.id, 0)).toMatchObject({ status: "counter_regressed" });
        expect((await store.getPasskey(user.id, counting.id))!.counter).toBe(6);
        const uncounted = passkey(user.id);
        await store.addPasskey(uncounted, 10);
        expect(await store.usePasskey(user.id, uncounted.id, 0)).toMatchObject({ status: "used" });
        expect(await store.usePasskey(user.id, uncounted.id, 0)).toMatchObject({ status: "used" });
        expect(await store.usePasskey(user.id, "missing", 1)).toEqual({ status: "missing" });
      });

      it("starts a passkey session only while the user holds the passkey", async () => {
        const user = await withUser();
        const key = passkey(user.id);
        expect(await store.createSession(session(user.id, { passkeyId: key.id }))).toEqual({ status: "credentials_changed" });
        await store.addPasskey(key, 10);
        const started = await store.createSession(session(user.id, { passkeyId: key.id }));
        expect(started).toMatchObject({ status: "created", session: { passkeyId: key.id } });
      });

      it("removes a passkey with the sessions it started, in one step, and frees its credential id", async () => {
        const user = await withUser();
        const key = passkey(user.id);
        const kept = passkey(user.id);
        await store.addPasskey(key, 10);
        await store.addPasskey(kept, 10);
        const first = await started(user.id, { passkeyId: key.id });
        const second = await started(user.id, { passkeyId: key.id });
        const other = await started(user.id, { passkeyId: kept.id });
        const byPassword = await started(user.id);
        const removed = await store.removePasskey(user.id, key.id);
        expect(removed).toEqual({ status: "removed", ended: 2, sessionIds: expect.arrayContaining([first.id, second.id]) });
        expect(removed.status === "removed" && removed.sessionIds).toHaveLength(2);
        expect((await store.listSessions(user.id)).map((s) => s.id).sort()).toEqual([other.id, byPassword.id].sort());
        expect((await store.accessState(user.id, first.id, "j")).session).toBeNull();
        expect((await store.accessState(user.id, second.id, "j")).session).toBeNull();
        expect(await store.passkeyOwner(key.id)).toBeNull();
        expect(await store.listPasskeys(user.id)).toEqual([kept]);
        expect(await store.removePasskey(user.id, key.id)).toEqual({ status: "missing" });
      });

      it("refuses to remove the last way in: no password and no other passkey", async () => {
        const user = newUser();
        expect(await store.createUser(user, "")).toBe(true);
        const only = passkey(user.id);
        const second = passkey(user.id);
        await store.addPasskey(only, 10);
        expect(await store.removePasskey(user.id, only.id)).toEqual({ status: "last_way_in" });
        await store.addPasskey(second, 10);
        expect(await store.removePasskey(user.id, only.id)).toEqual({ status: "removed", ended: 0, sessionIds: [] });
        expect(await store.removePasskey(user.id, second.id)).toEqual({ status: "last_way_in" });
        const withPassword = await withUser();
        const single = passkey(withPassword.id);
        await store.addPasskey(single, 10);
        expect(await store.removePasskey(withPassword.id, single.id)).toEqual({ status: "removed", ended: 0, sessionIds: [] });
      });
    });

    describe("WebAuthn challenges", () => {
      const challenge = (): WebAuthnChallenge => ({ ceremony: "authentication", challenge: randomUUID(), userId: null });

      it("hands a challenge out once", async () => {
        const id = randomUUID();
        const saved = { ...challenge(), ceremony: "registration" as const, userId: "u-1" };
        await store.saveChallenge(id, saved, 60_000);
        const takes = await Promise.all([store.takeChallenge(id), store.takeChallenge(id), store.takeChallenge(id)]);
        expect(takes.filter((taken) => taken !== null)).toEqual([saved]);
        expect(await store.takeChallenge(randomUUID())).toBeNull();
      });

      it("forgets a challenge after its time to live", async () => {
        const id = randomUUID();
        await store.saveChallenge(id, challenge(), 100);
        await h.advance(150);
        expect(await store.takeChallenge(id)).toBeNull();
      });
    });

    describe("mail tokens", () => {
      const put = (user: UserRecord, purpose: MailTokenPurpose, overrides: Partial<MailTokenRecord> = {}) => {
        const token: MailTokenRecord = { hash: randomUUID(), expiresAt: h.now() + 60_000, email: user.email, ...overrides };
        return store.putMailToken(user.id, purpose, token).then(() => ({ userId: user.id, hash: token.hash, now: h.now() }));
      };

      it("resetPassword takes a matching live token once: new password, address verified, every session ended, pending email change cancelled", async () => {
        const user = await withUser();
        const one = await started(user.id);
        const two = await started(user.id);
        const change = await put(user, "email_change", { email: newUser().email, sessionId: one.id });
        const token = await put(user, "password_reset");
        expect(await store.resetPassword({ ...token, hash: "wrong" }, "new-hash")).toBeNull();
        expect(await store.mailTokenMatches(token, "password_reset")).toBe(true);
        expect(await store.resetPassword(token, "new-hash")).toEqual({ ...user, emailVerified: true });
        expect((await store.getCredentials(user.id))!.passwordHash).toBe("new-hash");
        expect(await store.listSessions(user.id)).toEqual([]);
        for (const session of [one, two]) expect((await store.accessState(user.id, session.id, "jti")).cutoff).not.toBeNull();
        expect(await store.resetPassword(token, "other-hash")).toBeNull();
        expect(await store.mailTokenMatches(token, "password_reset")).toBe(false);
        expect((await store.changeEmail(change)).status).toBe("invalid");
      });

      it("a newer token supersedes an older one; an expired one, or one mailed to an address the user no longer has, does nothing", async () => {
        const user = await withUser();
        const older = await put(user, "password_reset");
        const newer = await put(user, "password_reset");
        expect(await store.resetPassword(older, "h1")).toBeNull();
        const expired = await put(user, "password_reset", { expiresAt: h.now() + 1000 });
        expect(await store.resetPassword({ ...expired, now: h.now() + 2000 }, "h2")).toBeNull();
        expect(await store.resetPassword(newer, "h3")).toBeNull();
        const elsewhere = await put(user, "password_reset", { email: "someone-else@example.com" });
        expect(await store.resetPassword(elsewhere, "h4")).toBeNull();
        expect((await store.getCredentials(user.id))!.passwordHash).toBe("hash-of-" + user.id);
      });

      it("takeMailToken returns a matching live token once, with what it was stored with; a wrong hash leaves it in place", async () => {
        const pending = newUser();
        const token = await put(pending, "registration", { passwordHash: "hash-of-the-chosen-password" });
        expect(await store.takeMailToken({ ...token, hash: "wrong" }, "registration")).toBeNull();
        expect(await store.takeMailToken(token, "email_verification")).toBeNull();
        expect(await store.takeMailToken(token, "registration")).toEqual({ hash: token.hash, expiresAt: expect.any(Number), email: pending.email, passwordHash: "hash-of-the-chosen-password" });
        expect(await store.takeMailToken(token, "registration")).toBeNull();
        const expired = await put(pending, "registration", { expiresAt: h.now() + 1000 });
        expect(await store.takeMailToken({ ...expired, now: h.now() + 2000 }, "registration")).toBeNull();
        expect(await store.takeMailToken(expired, "registration")).toBeNull();
        expect(await store.getUser(pending.id)).toBeNull();
      });

      it("verifyEmail marks the address verified once, and only for the address the token was mailed to", async () => {
        const user = await withUser();
        const token = await put(user, "email_verification");
        expect(await store.verifyEmail(token)).toEqual({ ...user, emailVerified: true });
        expect(await store.getUser(user.id)).toEqual({ ...user, emailVerified: true });
        expect(await store.verifyEmail(token)).toBeNull();
        const other = await withUser();
        expect(await store.verifyEmail(await put(other, "email_verification", { email: "not-theirs@example.com" }))).toBeNull();
        expect((await store.getUser(other.id))!.emailVerified).toBeFalsy();
      });

      it("changeEmail moves the address on the directory, verifies it and ends every session but the one that asked, once", async () => {
        const user = await withUser();
        const asking = await started(user.id);
        const other = await started(user.id);
        const email = newUser().email;
        const token = await put(user, "email_change", { email, sessionId: asking.id });
        const result = await store.changeEmail(token);
        expect(result).toEqual({ status: "changed", user: { ...user, email, emailVerified: true }, ended: 1, keptSessionId: asking.id });
        expect(await store.findUserIdByEmail(email)).toBe(user.id);
        expect(await store.findUserIdByEmail(user.email)).toBeNull();
        expect((await store.listSessions(user.id)).map((s) => s.id)).toEqual([asking.id]);
        expect((await store.accessState(user.id, other.id, "jti")).session).toBeNull();
        expect(await store.changeEmail(token)).toEqual({ status: "invalid" });
        // The old address is free for a new account.
        expect(await store.createUser(newUser({ email: user.email }), "h")).toBe(true);
      });

      it("changeEmail to an address another account took meanwhile changes nothing", async () => {
        const user = await withUser();
        const rival = await withUser();
        const asking = await started(user.id);
        const token = await put(user, "email_change", { email: rival.email, sessionId: asking.id });
        expect(await store.changeEmail(token)).toEqual({ status: "taken" });
        expect(await store.findUserIdByEmail(rival.email)).toBe(rival.id);
        expect(await store.findUserIdByEmail(user.email)).toBe(user.id);
        expect(await store.getUser(user.id)).toEqual(user);
      });

      it("lets exactly one of many concurrent confirmations of one email change win, and keeps the directory right", async () => {
        const user = await withUser();
        const email = newUser().email;
        const asking = await started(user.id);
        const token = await put(user, "email_change", { email, sessionId: asking.id });
        const results = await Promise.all(Array.from({ length: 8 }, () => store.changeEmail(token)));
        expect(results.filter((r) => r.status === "changed")).toHaveLength(1);
        expect(await store.findUserIdByEmail(email)).toBe(user.id);
        expect(await store.findUserIdByEmail(user.email)).toBeNull();
      });

      describe("a pending email change dies with what vouched for it", () => {
        async function pending() {
          const user = await withUser();
          const asking = await started(user.id);
          const email = newUser().email;
          const token = await put(user, "email_change", { email, sessionId: asking.id });
          return { user, asking, email, token };
        }
        async function expectDead(user: UserRecord, email: string, token: PresentedMailToken) {
          expect(await store.changeEmail(token)).toEqual({ status: "invalid" });
          expect(await store.findUserIdByEmail(email)).toBeNull();
          expect(await store.findUserIdByEmail(user.email)).toBe(user.id);
          expect((await store.getUser(user.id))!.email).toBe(user.email);
        }

        it("the session that asked ending", async () => {
          const { user, asking, email, token } = await pending();
          await store.endSession(user.id, asking.id);
          await expectDead(user, email, token);
        });

        it("a token that names no session", async () => {
          const user = await withUser();
          const email = newUser().email;
          await expectDead(user, email, await put(user, "email_change", { email }));
        });

        it("endAllSessions", async () => {
          const { user, email, token } = await pending();
          await store.endAllSessions(user.id);
          // A session begun afterwards does not revive it.
          await started(user.id);
          await expectDead(user, email, token);
        });

        it("changePassword, even from the session that asked", async () => {
          const { user, asking, email, token } = await pending();
          expect(await store.changePassword(user.id, "new-hash", asking.id)).toBe(true);
          await expectDead(user, email, token);
        });

        it("disabling the user, which enabling again does not undo", async () => {
          const { user, email, token } = await pending();
          expect((await store.changeAccess(user.id, { disabled: true }, false)).status).toBe("changed");
          expect((await store.changeAccess(user.id, { disabled: false }, false)).status).toBe("changed");
          await expectDead(user, email, token);
        });

        it("but not logoutOthers from the session that asked, nor a role change", async () => {
          const { user, asking, email, token } = await pending();
          await started(user.id);
          await store.endOtherSessions(user.id, asking.id);
          await store.changeAccess(user.id, { roles: ["USER", "ADMIN"] }, false);
          expect((await store.changeEmail(token)).status).toBe("changed");
          expect(await store.findUserIdByEmail(email)).toBe(user.id);
        });
      });

      describe("cancelEmailChange (\"this was not me\")", () => {
        async function requested() {
          const user = await withUser();
          const asking = await started(user.id);
          const other = await started(user.id);
          const email = newUser().email;
          const change = await put(user, "email_change", { email, sessionId: asking.id });
          const cancel = await put(user, "email_change_cancel", { email: user.email });
          return { user, asking, other, email, change, cancel };
        }

        it("cancels a pending change, ends every session and removes the password, once", async () => {
          const { user, asking, other, email, change, cancel } = await requested();
          expect(await store.cancelEmailChange({ ...cancel, hash: "wrong" })).toEqual({ status: "invalid" });
          expect((await store.getCredentials(user.id))!.passwordHash).toBe("hash-of-" + user.id);
          expect(await store.cancelEmailChange(cancel)).toEqual({ status: "cancelled", user, ended: 2, reverted: false });
          expect(await store.getCredentials(user.id)).toBeNull();
          expect(await store.listSessions(user.id)).toEqual([]);
          for (const session of [asking, other]) expect((await store.accessState(user.id, session.id, "jti")).cutoff).not.toBeNull();
          expect(await store.cancelEmailChange(cancel)).toEqual({ status: "invalid" });
          expect(await store.changeEmail(change)).toEqual({ status: "invalid" });
          expect(await store.findUserIdByEmail(email)).toBeNull();
        });

        it("moves a change that went through back, freeing the new address", async () => {
          const { user, email, change, cancel } = await requested();
          expect((await store.changeEmail(change)).status).toBe("changed");
          const result = await store.cancelEmailChange(cancel);
          expect(result).toEqual({ status: "cancelled", user: { ...user, emailVerified: true }, ended: 1, reverted: true });
          expect(await store.getUser(user.id)).toEqual({ ...user, emailVerified: true });
          expect(await store.findUserIdByEmail(user.email)).toBe(user.id);
          expect(await store.findUserIdByEmail(email)).toBeNull();
        });

        it("does not move back to an address another account took meanwhile, but still ends every session", async () => {
          const { user, email, change, cancel } = await requested();
          expect((await store.changeEmail(change)).status).toBe("changed");
          const rival = await withUser({ email: user.email });
          const result = await store.cancelEmailChange(cancel);
          expect(result).toMatchObject({ status: "cancelled", reverted: false, user: { email } });
          expect(await store.findUserIdByEmail(user.email)).toBe(rival.id);
          expect(await store.findUserIdByEmail(email)).toBe(user.id);
          expect(await store.listSessions(user.id)).toEqual([]);
        });

        it("moves the account back from wherever later changes took it", async () => {
          const { user, asking, email, change, cancel } = await requested();
          expect((await store.changeEmail(change)).status).toBe("changed");
          const further = newUser().email;
          expect((await store.changeEmail(await put({ ...user, email }, "email_change", { email: further, sessionId: asking.id }))).status).toBe("changed");
          expect(await store.cancelEmailChange(cancel)).toMatchObject({ status: "cancelled", reverted: true, user: { email: user.email } });
          for (const address of [email, further]) expect(await store.findUserIdByEmail(address)).toBeNull();
          expect(await store.findUserIdByEmail(user.email)).toBe(user.id);
        });

        it("readMailToken shows the stored record while it is live, and reads only", async () => {
          const { user, cancel } = await requested();
          expect(await store.readMailToken(user.id, "email_change_cancel", h.now())).toMatchObject({ email: user.email, hash: cancel.hash });
          expect(await store.readMailToken(user.id, "email_change_cancel", h.now() + 120_000)).toBeNull();
          expect(await store.readMailToken(user.id, "password_reset", h.now())).toBeNull();
          expect((await store.cancelEmailChange(cancel)).status).toBe("cancelled");
        });

        it("an expired token does nothing", async () => {
          const { user, cancel } = await requested();
          expect(await store.cancelEmailChange({ ...cancel, now: h.now() + 120_000 })).toEqual({ status: "invalid" });
          expect(await store.listSessions(user.id)).toHaveLength(2);
        });
      });
    });

    it("answers ping", async () => {
      await expect(store.ping()).resolves.toBeUndefined();
    });
  });
}
