import { randomUUID } from "node:crypto";
import type { FederationFlow, FederationStateStore } from "../../../src/store/store";
import type { ContractHarness } from "./harness";

/** Provider sign-in's hot state (FederationStateStore): flows, used logout tokens, provider sessions. */
export function federationContract(harness: () => ContractHarness<FederationStateStore>) {
  let h: ContractHarness<FederationStateStore>, store: FederationStateStore;
  beforeAll(() => void ({ store } = h = harness()));

  describe("provider sign-in state", () => {
    const flow = (): FederationFlow => ({ provider: "corp", state: randomUUID(), nonce: randomUUID(), codeVerifier: randomUUID(), redirectTo: "http://localhost:3000/" });

    it("hands a flow out once, so a callback is answered once", async () => {
      const id = randomUUID();
      const saved = { ...flow(), linkUserId: "u-1" };
      await store.saveFlow(id, saved, 60_000);
      const takes = await Promise.all([store.takeFlow(id), store.takeFlow(id), store.takeFlow(id)]);
      expect(takes.filter((taken) => taken !== null)).toEqual([saved]);
      expect(await store.takeFlow(randomUUID())).toBeNull();
    });

    it("takes a flow with an expected state only when the provider and state match, and leaves it otherwise", async () => {
      const id = randomUUID();
      const saved = flow();
      await store.saveFlow(id, saved, 60_000);
      expect(await store.takeFlow(id, { provider: "corp", state: "forged" })).toBeNull();
      expect(await store.takeFlow(id, { provider: "other", state: saved.state })).toBeNull();
      expect(await store.takeFlow(id, { provider: "corp", state: saved.state })).toEqual(saved);
      expect(await store.takeFlow(id, { provider: "corp", state: saved.state })).toBeNull();
    });

    it("refuses to index a sign-in a logout of its sid marked, or of its sub since the sign-in started, and forgets ended sessions", async () => {
      const [sub, sid] = [randomUUID(), randomUUID()];
      const session = (sessionId: string, ofSid: string | null = sid) => ({ provider: "corp", subject: sub, sid: ofSid, userId: "u-1", sessionId });
      const until = h.now() + 60_000;
      expect(await store.recordProviderSession(session("s-1"), until, { startedAt: h.now() })).toBe(true);
      await store.markProviderLogout("corp", sid, null, h.now(), 60_000);
      expect(await store.recordProviderSession(session("s-2"), until, { startedAt: h.now() + 1000 })).toBe(false);
      // A refresh is not a sign-in: no check.
      expect(await store.recordProviderSession(session("s-1"), until + 1000)).toBe(true);
      const started = h.now();
      await store.markProviderLogout("corp", null, sub, started + 10, 60_000);
      expect(await store.recordProviderSession(session("s-3", null), until, { startedAt: started })).toBe(false);
      expect(await store.recordProviderSession(session("s-4", null), until, { startedAt: started + 20 })).toBe(true);
      await store.forgetProviderSession(session("s-4", null));
      expect((await store.providerSessions("corp", null, sub)).map((entry) => entry.sessionId)).not.toContain("s-4");
    });

    it("keeps at most the cap of entries in an index, never dropping the one recorded", async () => {
      const sub = randomUUID();
      for (let i = 0; i < 5; i++) expect(await store.recordProviderSession({ provider: "corp", subject: sub, sid: null, userId: "u-1", sessionId: `s-${i}` }, h.now() + 60_000, { cap: 2 })).toBe(true);
      const left = (await store.providerSessions("corp", null, sub)).map((entry) => entry.sessionId);
      expect(left).toHaveLength(2);
      expect(left).toContain("s-4");
    });

    it("forgets a flow after its time to live", async () => {
      const id = randomUUID();
      await store.saveFlow(id, flow(), 100);
      await h.advance(150);
      expect(await store.takeFlow(id)).toBeNull();
    });

    it("accepts a logout token's jti once per provider, until it expires", async () => {
      const jti = randomUUID();
      expect(await store.logoutTokenIdUsed("corp", jti)).toBe(false);
      const results = await Promise.all([store.useLogoutTokenId("corp", jti, 100), store.useLogoutTokenId("corp", jti, 100)]);
      expect(results.sort()).toEqual([false, true]);
      expect(await store.logoutTokenIdUsed("corp", jti)).toBe(true);
      expect(await store.useLogoutTokenId("other", jti, 100)).toBe(true);
      await h.advance(150);
      expect(await store.useLogoutTokenId("corp", jti, 100)).toBe(true);
    });

    it("finds the sessions of a provider session by sid, and all of a subject's by sub", async () => {
      const [sub, sidA, sidB] = [randomUUID(), randomUUID(), randomUUID()];
      await store.recordProviderSession({ provider: "corp", subject: sub, sid: sidA, userId: "u-1", sessionId: "s-1" }, h.now() + 60_000);
      await store.recordProviderSession({ provider: "corp", subject: sub, sid: sidB, userId: "u-1", sessionId: "s-2" }, h.now() + 60_000);
      await store.recordProviderSession({ provider: "corp", subject: sub, sid: null, userId: "u-1", sessionId: "s-3" }, h.now() + 60_000);
      expect(await store.providerSessions("corp", sidA, sub)).toEqual([{ userId: "u-1", sessionId: "s-1" }]);
      const bySubject = await store.providerSessions("corp", null, sub);
      expect(bySubject.map((entry) => entry.sessionId).sort()).toEqual(["s-1", "s-2", "s-3"]);
      expect(await store.providerSessions("other", sidA, sub)).toEqual([]);
      expect(await store.providerSessions("corp", null, randomUUID())).toEqual([]);
    });

    it("keeps a provider session's entry until the latest expiry it was recorded with, never shortening it", async () => {
      const [sub, sid] = [randomUUID(), randomUUID()];
      const session = { provider: "corp", subject: sub, sid, userId: "u-1", sessionId: "s-1" };
      await store.recordProviderSession(session, h.now() + 100);
      await store.recordProviderSession(session, h.now() + 400);
      await store.recordProviderSession(session, h.now() + 50);
      await h.advance(200);
      expect(await store.providerSessions("corp", sid, sub)).toEqual([{ userId: "u-1", sessionId: "s-1" }]);
      expect(await store.providerSessions("corp", null, sub)).toEqual([{ userId: "u-1", sessionId: "s-1" }]);
      await h.advance(300);
      expect(await store.providerSessions("corp", sid, sub)).toEqual([]);
    });
  });
}
