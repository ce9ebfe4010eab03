import { randomUUID } from "node:crypto";
import { identityId, type IdentityStore, type LinkedIdentity, type PasskeyRecord, type PasskeyStore, type SessionStore, type TransitionStore, type UserStore } from "../../../src/store/store";
import { newUser, sessionFixtures, userFixtures, type ContractHarness } from "./harness";

type IdentityHarnessStore = IdentityStore &
  Pick<UserStore, "createUser"> &
  Pick<PasskeyStore, "addPasskey"> &
  Pick<TransitionStore, "removePasskey"> &
  Pick<SessionStore, "createSession" | "rotateSession" | "listSessions" | "accessState">;

/** Linked provider identities (IdentityStore): directory data. */
export function identitiesContract(harness: () => ContractHarness<IdentityHarnessStore>) {
  let h: ContractHarness<IdentityHarnessStore>, store: IdentityHarnessStore;
  beforeAll(() => void ({ store } = h = harness()));
  const { withUser } = userFixtures(() => h);
  const { started } = sessionFixtures(() => h);
  /** Two users of the directory: an identity links to a user that exists (Postgres holds it to that). */
  const twoUsers = async () => (await Promise.all([withUser(), withUser()])).map((user) => user.id);

  describe("linked identities", () => {
    const identity = (userId: string, provider = "corp", linkedAt = h.now()): LinkedIdentity => {
      const subject = randomUUID();
      return { id: identityId(provider, subject), provider, subject, userId, email: "someone@example.com", linkedAt };
    };

    it("links a provider subject to one user only, and finds it", async () => {
      const [user, other] = await twoUsers();
      const linked = identity(user);
      expect(await store.linkIdentity(linked)).toBe("linked");
      const race = await Promise.all([store.linkIdentity({ ...linked, userId: other }), store.linkIdentity(linked)]);
      expect(race).toEqual(["taken", "taken"]);
      expect(await store.findIdentity("corp", linked.subject)).toEqual(linked);
      expect(await store.findIdentity("other", linked.subject)).toBeNull();
      expect(await store.listIdentities(other)).toEqual([]);
    });

    it("lists a user's identities oldest first, and unlinks only the user's own", async () => {
      const [user, other] = await twoUsers();
      const first = identity(user, "corp", 1000);
      const second = identity(user, "google", 2000);
      await store.linkIdentity(second);
      await store.linkIdentity(first);
      expect(await store.listIdentities(user)).toEqual([first, second]);
      expect((await store.unlinkIdentity(other, first.id)).status).toBe("missing");
      expect((await store.unlinkIdentity(user, first.id)).status).toBe("unlinked");
      expect((await store.unlinkIdentity(user, first.id)).status).toBe("missing");
      expect(await store.listIdentities(user)).toEqual([second]);
      expect(await store.findIdentity("corp", first.subject)).toBeNull();
      expect(await store.linkIdentity({ ...first, userId: other })).toBe("linked");
    });

    /** A user a provider created: no password (an empty hash). */
    const passwordless = async () => {
      const user = newUser();
      expect(await store.createUser(user, "")).toBe(true);
      return user.id;
    };

    it("refuses to unlink the last way in, and of two unlinks at once lets only one through", async () => {
      const user = await passwordless();
      const [first, second] = [identity(user), identity(user, "google")];
      await store.linkIdentity(first);
      await store.linkIdentity(second);
      const race = await Promise.all([store.unlinkIdentity(user, first.id), store.unlinkIdentity(user, second.id)]);
      expect(race.map((result) => result.status).sort()).toEqual(["last_credential", "unlinked"]);
      expect(await store.listIdentities(user)).toHaveLength(1);
    });

    it("of a passkey removal and an unlink at once, lets only one through when they are the last two ways in", async () => {
      const user = await passwordless();
      const linked = identity(user);
      await store.linkIdentity(linked);
      const key: PasskeyRecord = { id: randomUUID(), userId: user, name: "key", publicKey: "pk", counter: 0, transports: [], backupEligible: false, backedUp: false, createdAt: h.now(), lastUsedAt: null };
      await store.addPasskey(key, 10);
      const [removed, unlinked] = await Promise.all([store.removePasskey(user, key.id), store.unlinkIdentity(user, linked.id)]);
      expect([removed.status === "removed", unlinked.status === "unlinked"].filter(Boolean)).toHaveLength(1);
      expect([removed.status, unlinked.status]).toContain(removed.status === "removed" ? "last_credential" : "last_way_in");
    });

    it("unlinks an identity with the sessions it started, in one step, and no other session", async () => {
      const user = (await withUser()).id;
      const linked = identity(user);
      const kept = identity(user, "google");
      await store.linkIdentity(linked);
      await store.linkIdentity(kept);
      const federation = (of: LinkedIdentity, sid: string | null) => ({ federation: { provider: of.provider, subject: of.subject, sid } });
      const first = await started(user, federation(linked, "s1"));
      const second = await started(user, federation(linked, null));
      const sameSubjectOtherProvider = await started(user, { federation: { provider: "google", subject: linked.subject, sid: null } });
      const other = await started(user, federation(kept, "s2"));
      const byPassword = await started(user);
      const unlinked = await store.unlinkIdentity(user, linked.id);
      expect(unlinked).toEqual({ status: "unlinked", sessionIds: expect.arrayContaining([first.id, second.id]) });
      expect(unlinked.status === "unlinked" && unlinked.sessionIds).toHaveLength(2);
      expect((await store.listSessions(user)).map((s) => s.id).sort()).toEqual([sameSubjectOtherProvider.id, other.id, byPassword.id].sort());
      expect((await store.accessState(user, first.id, "j")).session).toBeNull();
      expect((await store.accessState(user, second.id, "j")).session).toBeNull();
    });
  });
}
