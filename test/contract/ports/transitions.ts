import { randomUUID } from "node:crypto";
import type { MailTokenStore, PresentedMailToken, SessionStore, TransitionStore, UserRecord, UserStore } from "../../../src/store/store";
import { mailFixtures, newUser, sessionFixtures, userFixtures, type ContractHarness } from "./harness";

/** Every port a transition spans. */
export type TransitionsContractStore = UserStore & SessionStore & MailTokenStore & TransitionStore;

/** The steps that span concerns (TransitionStore): access changes, and mailed links that change the account. */
export function transitionsContract(harness: () => ContractHarness<TransitionsContractStore>) {
  let h: ContractHarness<TransitionsContractStore>, store: TransitionsContractStore;
  beforeAll(() => void ({ store } = h = harness()));
  const { withUser } = userFixtures(() => h);
  const { session, rotate, started } = sessionFixtures(() => h);
  const { put } = mailFixtures(() => h);

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

  describe("mailed links that change the account", () => {
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
}
