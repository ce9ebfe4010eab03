import { randomUUID } from "node:crypto";
import { isLiveSession, type NewSession, type SessionStore, type TransitionStore, type UserStore } from "../../../src/store/store";
import { sessionFixtures, userFixtures, type ContractHarness } from "./harness";

/** Sessions started for users of the directory; a few cases end them through a transition. */
export type SessionsContractStore = UserStore & SessionStore & Pick<TransitionStore, "changePassword" | "setUserDisabled">;

/** Sessions and revocation (SessionStore), over users made through UserStore. */
export function sessionsContract(harness: () => ContractHarness<SessionsContractStore>) {
  let h: ContractHarness<SessionsContractStore>, store: SessionsContractStore;
  beforeAll(() => void ({ store } = h = harness()));
  const { withUser } = userFixtures(() => h);
  const { session, rotate, started } = sessionFixtures(() => h);

  describe("sessions", () => {
    it("creates a session that the access check sees as live", async () => {
      const user = await withUser();
      const created = await started(user.id);
      expect(created.createdAt).toBe(created.lastUsedAt);
      const state = await store.accessState(user.id, created.id, "some-jti");
      expect(state).toEqual({ user, session: created, cutoff: null, accessTokenRevoked: false });
    });

    it("reads a DPoP-bound token's state and records its proof's jti in one step: the second use is a replay, until the window passes", async () => {
      const user = await withUser();
      const created = await started(user.id, { jkt: "thumbprint-of-the-key" });
      expect(created.jkt).toBe("thumbprint-of-the-key");
      const first = await store.boundAccessState(user.id, created.id, "access-1", "proof-1", 1);
      expect(first).toEqual({ user, session: created, cutoff: null, accessTokenRevoked: false, proofReplayed: false });
      expect((await store.boundAccessState(user.id, created.id, "access-1", "proof-1", 1)).proofReplayed).toBe(true);
      expect((await store.boundAccessState(user.id, created.id, "access-1", "proof-2", 1)).proofReplayed).toBe(false);
      await h.advance(1100);
      expect((await store.boundAccessState(user.id, created.id, "access-1", "proof-1", 1)).proofReplayed).toBe(false);
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

    it("records a bound refresh's proof jti in the rotation's step: a proof seen before, at a refresh or with an access token, rotates nothing", async () => {
      const user = await withUser();
      const created = await started(user.id, { jkt: "thumbprint-of-the-key" });
      await store.boundAccessState(user.id, created.id, "access-1", "proof-seen", 60);
      const seen = await rotate({ userId: user.id, sessionId: created.id, presentedJti: created.refreshJti, nextJti: "n1", nextExpiresAt: h.now() + 60_000, proof: { jti: "proof-seen", ttlSeconds: 60 } });
      expect(seen).toEqual({ status: "proof_replayed" });
      const rotated = await rotate({ userId: user.id, sessionId: created.id, presentedJti: created.refreshJti, nextJti: "n1", nextExpiresAt: h.now() + 60_000, proof: { jti: "proof-new", ttlSeconds: 60 } });
      expect(rotated.status).toBe("rotated");
      expect(await rotate({ userId: user.id, sessionId: created.id, presentedJti: "n1", nextJti: "n2", nextExpiresAt: h.now() + 60_000, proof: { jti: "proof-new", ttlSeconds: 60 } })).toEqual({ status: "proof_replayed" });
      expect((await store.boundAccessState(user.id, created.id, "access-1", "proof-new", 60)).proofReplayed).toBe(true);
      expect((await store.accessState(user.id, created.id, "access-1")).session?.refreshJti).toBe("n1");
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

    it("revokes access tokens by jti, each until it would have expired, leaving their session live", async () => {
      const user = await withUser();
      const created = await started(user.id);
      await store.revokeAccessTokens(user.id, [{ jti: "oauth-1", expiresAt: h.now() + 800 }, { jti: "oauth-2", expiresAt: h.now() + 5_000 }, { jti: "gone", expiresAt: h.now() - 1 }]);
      const revoked = await store.accessState(user.id, created.id, "oauth-1");
      expect(revoked.accessTokenRevoked).toBe(true);
      expect(revoked.session).not.toBeNull();
      expect((await store.accessState(user.id, created.id, "gone")).accessTokenRevoked).toBe(false);
      expect((await store.accessState(user.id, created.id, "other")).accessTokenRevoked).toBe(false);
      await h.advance(1_000);
      expect((await store.accessState(user.id, created.id, "oauth-1")).accessTokenRevoked).toBe(false);
      expect((await store.accessState(user.id, created.id, "oauth-2")).accessTokenRevoked).toBe(true);
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
}
