import { randomUUID } from "node:crypto";
import type { PasskeyRecord, PasskeyStore, SessionStore, TransitionStore, UserStore, WebAuthnChallenge, WebAuthnChallengeStore } from "../../../src/store/store";
import { newUser, sessionFixtures, userFixtures, type ContractHarness } from "./harness";

/** Passkeys of directory users, the sessions they start, and the transition that removes one. */
export type PasskeysContractStore = UserStore & PasskeyStore & SessionStore & Pick<TransitionStore, "removePasskey">;

/** Passkeys (PasskeyStore), with the sessions they start. */
export function passkeysContract(harness: () => ContractHarness<PasskeysContractStore>) {
  let h: ContractHarness<PasskeysContractStore>, store: PasskeysContractStore;
  beforeAll(() => void ({ store } = h = harness()));
  const { withUser } = userFixtures(() => h);
  const { session, started } = sessionFixtures(() => h);

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

    it("answers for an id that is no user's (the unknown address's stand-in asks with one) as for a user without passkeys", async () => {
      expect(await store.listPasskeys("nobody")).toEqual([]);
      expect(await store.getPasskey("nobody", "some-credential")).toBeNull();
      expect(await store.addPasskey(passkey("nobody"), 10)).toBe("user_missing");
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
}

/** WebAuthn challenges (WebAuthnChallengeStore): hot state. */
export function webAuthnChallengesContract(harness: () => ContractHarness<WebAuthnChallengeStore>) {
  let h: ContractHarness<WebAuthnChallengeStore>, store: WebAuthnChallengeStore;
  beforeAll(() => void ({ store } = h = harness()));

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
}
