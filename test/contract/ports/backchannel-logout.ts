import { randomUUID } from "node:crypto";
import type { BackchannelBounds, BackchannelLogoutStore } from "../../../src/store/ports/backchannel-logout";
import type { ContractHarness } from "./harness";

const HOUR = 3600_000;

/** The links of clients to sessions, and the durable queue of logout tokens (BackchannelLogoutStore). */
export function backchannelLogoutContract(harness: () => ContractHarness<BackchannelLogoutStore>) {
  let h: ContractHarness<BackchannelLogoutStore>, store: BackchannelLogoutStore;
  beforeAll(() => void ({ store } = h = harness()));

  const bounds = (overrides: Partial<BackchannelBounds> = {}): BackchannelBounds => ({ staleBefore: h.now() - HOUR, linkedBefore: h.now() + 1, maxPerClient: 100, maxTotal: 10_000, ...overrides });
  const drain = async () => {
    for (let item = await store.claimBackchannelDelivery(h.now() + 10 * HOUR, 1); item; item = await store.claimBackchannelDelivery(h.now() + 10 * HOUR, 1)) await store.finishBackchannelDelivery(item.id);
  };
  const linked = async (userId: string, links: [string, string][]) => {
    for (const [sessionId, clientId] of links) await store.linkBackchannelSession(userId, sessionId, clientId, h.now(), HOUR);
  };
  beforeEach(() => drain());

  describe("links", () => {
    it("queues one delivery per client in the ended session, and none for another session", async () => {
      const user = randomUUID();
      await linked(user, [["s1", "app-a"], ["s1", "app-b"], ["s2", "app-a"]]);
      const { queued, dropped } = await store.enqueueBackchannelLogouts(user, { kind: "session", sessionId: "s1" }, h.now(), bounds());
      expect(dropped).toBe(0);
      expect(queued.map(({ userId, sessionId, clientId, attempts }) => ({ userId, sessionId, clientId, attempts })).sort((a, b) => a.clientId.localeCompare(b.clientId))).toEqual([
        { userId: user, sessionId: "s1", clientId: "app-a", attempts: 0 },
        { userId: user, sessionId: "s1", clientId: "app-b", attempts: 0 },
      ]);
      expect(await store.backchannelLinks(user, h.now() - HOUR)).toEqual([expect.objectContaining({ sessionId: "s2", clientId: "app-a" })]);
    });

    it("queues a link once, however many ends reach it", async () => {
      const user = randomUUID();
      await linked(user, [["s1", "app-a"]]);
      const [first, second] = await Promise.all([
        store.enqueueBackchannelLogouts(user, { kind: "all" }, h.now(), bounds()),
        store.enqueueBackchannelLogouts(user, { kind: "session", sessionId: "s1" }, h.now(), bounds()),
      ]);
      expect(first!.queued.length + second!.queued.length).toBe(1);
    });

    it("reaches every session but the kept one, or one client's links only", async () => {
      const user = randomUUID();
      await linked(user, [["keep", "app-a"], ["s1", "app-a"], ["s2", "app-b"]]);
      const others = await store.enqueueBackchannelLogouts(user, { kind: "others", keepSessionId: "keep" }, h.now(), bounds());
      expect(others.queued.map((item) => item.sessionId).sort()).toEqual(["s1", "s2"]);
      await linked(user, [["s3", "app-b"]]);
      const client = await store.enqueueBackchannelLogouts(user, { kind: "client", clientId: "app-a" }, h.now(), bounds());
      expect(client.queued.map((item) => `${item.sessionId} ${item.clientId}`)).toEqual(["keep app-a"]);
      expect((await store.backchannelLinks(user, h.now() - HOUR)).map((link) => link.sessionId)).toEqual(["s3"]);
    });

    it("does not reach a link made after the end, nor one gone stale", async () => {
      const user = randomUUID();
      const endedAt = h.now() - 1;
      await linked(user, [["s1", "app-a"]]);
      expect((await store.enqueueBackchannelLogouts(user, { kind: "all" }, h.now(), bounds({ linkedBefore: endedAt }))).queued).toEqual([]);
      expect((await store.enqueueBackchannelLogouts(user, { kind: "all" }, h.now(), bounds({ staleBefore: h.now() + 1 }))).queued).toEqual([]);
      expect(await store.backchannelLinks(user, 0)).toEqual([]);
    });

    it("lists the users with links, for the sweep", async () => {
      const user = randomUUID();
      await linked(user, [["s1", "app-a"]]);
      const all: string[] = [];
      for (let offset = 0; ; offset += 50) {
        const page = await store.backchannelUsers(offset, 50);
        all.push(...page);
        if (page.length < 50) break;
      }
      expect(all).toContain(user);
    });
  });

  describe("the queue", () => {
    it("leases a due delivery to one claimer, counts the attempt, and hands it out again once the lease runs out", async () => {
      const user = randomUUID();
      await linked(user, [["s1", "app-a"]]);
      await store.enqueueBackchannelLogouts(user, { kind: "all" }, h.now(), bounds());
      // Margins of seconds: under load, real time passes between the steps (Redis runs on the clock).
      const [a, b] = await Promise.all([store.claimBackchannelDelivery(h.now(), 3000), store.claimBackchannelDelivery(h.now(), 3000)]);
      expect([a, b].filter(Boolean)).toHaveLength(1);
      const claimed = (a ?? b)!;
      expect(claimed.attempts).toBe(1);
      expect(await store.claimBackchannelDelivery(h.now(), 1000)).toBeNull();
      await h.advance(3100);
      expect(await store.claimBackchannelDelivery(h.now(), 1000)).toEqual({ ...claimed, attempts: 2 });
    });

    it("holds a retried delivery until it is due, and forgets a finished one", async () => {
      const user = randomUUID();
      await linked(user, [["s1", "app-a"]]);
      await store.enqueueBackchannelLogouts(user, { kind: "all" }, h.now(), bounds());
      const claimed = (await store.claimBackchannelDelivery(h.now(), 60_000))!;
      await store.retryBackchannelDelivery(claimed.id, h.now() + 3000);
      expect(await store.claimBackchannelDelivery(h.now(), 60_000)).toBeNull();
      await h.advance(3100);
      const again = (await store.claimBackchannelDelivery(h.now(), 60_000))!;
      expect(again.id).toBe(claimed.id);
      await store.finishBackchannelDelivery(again.id);
      await store.retryBackchannelDelivery(again.id, h.now());
      expect(await store.claimBackchannelDelivery(h.now() + HOUR, 1000)).toBeNull();
      expect(await store.backchannelQueueSize()).toBe(0);
    });

    it("drops deliveries over the per-client bound and over the total, and counts them", async () => {
      const user = randomUUID();
      await linked(user, [["s1", "app-a"], ["s2", "app-a"], ["s3", "app-a"], ["s4", "app-b"]]);
      const result = await store.enqueueBackchannelLogouts(user, { kind: "all" }, h.now(), bounds({ maxPerClient: 2 }));
      expect(result.queued.map((item) => item.clientId).sort()).toEqual(["app-a", "app-a", "app-b"]);
      expect(result.dropped).toBe(1);
      const other = randomUUID();
      await linked(other, [["s1", "app-c"]]);
      expect(await store.enqueueBackchannelLogouts(other, { kind: "all" }, h.now(), bounds({ maxTotal: 3 }))).toEqual({ queued: [], dropped: 1 });
      // A finished delivery frees its client's room.
      const claimed = (await store.claimBackchannelDelivery(h.now(), 1000))!;
      await store.finishBackchannelDelivery(claimed.id);
      await linked(user, [["s5", claimed.clientId]]);
      expect((await store.enqueueBackchannelLogouts(user, { kind: "all" }, h.now(), bounds({ maxPerClient: 2 }))).queued).toHaveLength(1);
    });
  });
}
