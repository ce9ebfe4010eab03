import type { KeySetStore } from "../../../src/store/store";
import type { ContractHarness } from "./harness";

/** The key set's version (KeySetStore). */
export function keySetContract(harness: () => ContractHarness<KeySetStore>) {
  let h: ContractHarness<KeySetStore>, store: KeySetStore;
  beforeAll(() => void ({ store } = h = harness()));

  describe("the key-set version", () => {
    it("keeps the last version published, for verifiers to compare with theirs", async () => {
      await store.publishKeySetVersion("first");
      await store.publishKeySetVersion("second");
      expect(await store.keySetVersion()).toBe("second");
    });
  });
}
