import { randomUUID } from "node:crypto";
import { identityId, type IdentityStore, type LinkedIdentity, type UserStore } from "../../../src/store/store";
import { userFixtures, type ContractHarness } from "./harness";

/** Linked provider identities (IdentityStore): directory data. */
export function identitiesContract(harness: () => ContractHarness<IdentityStore & Pick<UserStore, "createUser">>) {
  let h: ContractHarness<IdentityStore & Pick<UserStore, "createUser">>, store: IdentityStore;
  beforeAll(() => void ({ store } = h = harness()));
  const { withUser } = userFixtures(() => h);
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
      expect(await store.unlinkIdentity(other, first.id)).toBe(false);
      expect(await store.unlinkIdentity(user, first.id)).toBe(true);
      expect(await store.unlinkIdentity(user, first.id)).toBe(false);
      expect(await store.listIdentities(user)).toEqual([second]);
      expect(await store.findIdentity("corp", first.subject)).toBeNull();
      expect(await store.linkIdentity({ ...first, userId: other })).toBe("linked");
    });
  });
}
