import { randomUUID } from "node:crypto";
import type { MfaStore, SessionStore, UserStore } from "../../../src/store/store";
import { userFixtures, type ContractHarness } from "./harness";

/** The factor, and the user record (mfaEnabled) the per-request read sees. */
export type MfaContractStore = UserStore & MfaStore & Pick<SessionStore, "accessState">;

/** The second factor (MfaStore): directory state, but for the enrolment and failures. */
export function mfaContract(harness: () => ContractHarness<MfaContractStore>) {
  let h: ContractHarness<MfaContractStore>, store: MfaContractStore;
  beforeAll(() => void ({ store } = h = harness()));
  const { withUser } = userFixtures(() => h);

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
}
