import { randomUUID } from "node:crypto";
import type { LimiterStore } from "../../../src/store/store";
import type { ContractHarness } from "./harness";

/** Throttling counters (LimiterStore). */
export function limiterContract(harness: () => ContractHarness<LimiterStore>) {
  let h: ContractHarness<LimiterStore>, store: LimiterStore;
  beforeAll(() => void ({ store } = h = harness()));

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
}
