import type { MailTokenStore, UserStore } from "../../../src/store/store";
import { mailFixtures, newUser, type ContractHarness } from "./harness";

/** Tokens, and the directory they must leave untouched. */
export type MailTokensContractStore = MailTokenStore & Pick<UserStore, "getUser">;

/** The tokens of mailed links (MailTokenStore). */
export function mailTokensContract(harness: () => ContractHarness<MailTokensContractStore>) {
  let h: ContractHarness<MailTokensContractStore>, store: MailTokensContractStore;
  beforeAll(() => void ({ store } = h = harness()));
  const { put } = mailFixtures(() => h);

  describe("mail tokens", () => {
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
  });
}
