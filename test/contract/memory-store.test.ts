import { MemoryStore } from "../../src/store/memory/memory-store";
import { storeContract } from "./store-contract";

let now = Date.now();
const clock = { now: () => now };
const store = new MemoryStore(clock);
afterAll(() => store.close());

storeContract("memory", () => ({
  store,
  now: () => now,
  async advance(ms) {
    now += ms;
  },
}));

describe("MemoryStore housekeeping", () => {
  it("sweeps out every expired session, cutoff and revocation, so memory does not grow", async () => {
    const fresh = new MemoryStore(clock);
    const user = { id: "u-sweep", email: "sweep@example.com", roles: ["USER"] as const, createdAt: now, disabled: false };
    await fresh.createUser(user, "h");
    for (let i = 0; i < 50; i++) {
      await fresh.createSession({ id: `s${i}`, userId: user.id, device: null, expiresAt: now + 10_000, refreshJti: `r${i}`, assurance: { aal: "aal1", amr: ["pwd"] } });
      await fresh.endSession(user.id, `s${i}`, { jti: `a${i}`, expiresAt: now + 5_000 });
    }
    await fresh.createSession({ id: "last", userId: user.id, device: null, expiresAt: now + 10_000, refreshJti: "r", assurance: { aal: "aal1", amr: ["pwd"] } });
    await fresh.endAllSessions(user.id);
    expect(fresh.expiringEntryCount()).toBe(51); // 50 revocations and one cutoff
    now += 20_000;
    fresh.sweep();
    expect(fresh.expiringEntryCount()).toBe(0);
    await fresh.close();
  });
});
