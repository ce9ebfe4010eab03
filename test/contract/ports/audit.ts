import { randomUUID } from "node:crypto";
import type { AuditEntry, AuditRetention, AuditStore, AuditTail } from "../../../src/store/store";
import type { ContractHarness } from "./harness";

/** The audit trail and its live tail (AuditStore). */
export function auditContract(harness: () => ContractHarness<AuditStore>) {
  let h: ContractHarness<AuditStore>, store: AuditStore;
  beforeAll(() => void ({ store } = h = harness()));

  describe("the audit trail", () => {
    const retention: AuditRetention = { maxAgeMs: 3_600_000, maxPerUser: 1000, maxGlobal: 100_000 };
    const entry = (overrides: Partial<AuditEntry> = {}): AuditEntry => ({
      eventId: randomUUID(),
      type: "SIGNED_IN",
      actorId: null,
      userId: randomUUID(),
      sessionId: randomUUID(),
      clientIp: "203.0.113.7",
      userAgent: "Mozilla/5.0 (contract)",
      device: "phone",
      details: { via: "password" },
      ...overrides,
    });
    const read = (userId: string | null, more: Partial<{ before: string; from: number; to: number; count: number }> = {}) =>
      store.readAuditEvents({ userId, before: more.before ?? null, from: more.from ?? null, to: more.to ?? null, count: more.count ?? 100 });

    it("appends an event to its user's stream and the global one, every field kept, stamped by the store", async () => {
      const event = entry({ actorId: randomUUID(), details: { disabled: true, roles: ["USER"] } });
      const before = h.now();
      await store.appendAuditEvent(event, retention);
      const [mine] = await read(event.userId);
      expect(mine).toEqual({ ...event, id: expect.stringMatching(/^\d+-\d+$/), at: expect.any(Number) });
      expect(mine!.at).toBeGreaterThanOrEqual(before - 1000);
      expect(mine!.at).toBeLessThanOrEqual(h.now() + 1000);
      // Each stream numbers its own entries: the global copy carries the same event under its own id.
      expect((await read(null, { count: 1 }))[0]).toEqual({ ...event, id: expect.any(String), at: expect.any(Number) });
    });

    it("keeps an event about nobody in the global stream only, with absent fields null", async () => {
      const event = entry({ type: "LOGIN_FAILED", userId: null, sessionId: null, userAgent: null, device: null, details: {} });
      await store.appendAuditEvent(event, retention);
      expect((await read(null, { count: 1 }))[0]).toMatchObject(event);
    });

    it("reads newest first, a page after a given id, and within a time range", async () => {
      const userId = randomUUID();
      for (let i = 0; i < 5; i++) {
        await store.appendAuditEvent(entry({ userId, details: { i } }), retention);
        await h.advance(2);
      }
      const all = await read(userId);
      expect(all.map((e) => e.details.i)).toEqual([4, 3, 2, 1, 0]);
      expect((await read(userId, { before: all[1]!.id, count: 2 })).map((e) => e.details.i)).toEqual([2, 1]);
      expect((await read(userId, { from: all[3]!.at, to: all[1]!.at })).map((e) => e.details.i)).toEqual([3, 2, 1]);
      expect(await read(randomUUID())).toEqual([]);
    });

    it("trims a user's stream to about maxPerUser events, keeping the newest", async () => {
      const userId = randomUUID();
      for (let i = 0; i < 400; i++) await store.appendAuditEvent(entry({ userId, details: { i } }), { ...retention, maxPerUser: 50 });
      const kept = await read(userId, { count: 1000 });
      expect(kept.length).toBeGreaterThanOrEqual(50);
      expect(kept.length).toBeLessThan(250);
      expect(kept[0]!.details.i).toBe(399);
    });

    it("keeps a user's attempts in a stream of their own: a flood of them leaves the history in place", async () => {
      const userId = randomUUID();
      const small = { ...retention, maxPerUser: 50 };
      await store.appendAuditEvent(entry({ userId, details: { own: "first" } }), small, "history");
      for (let i = 0; i < 400; i++) await store.appendAuditEvent(entry({ userId, type: "LOGIN_FAILED", details: { i } }), small, "attempts");
      await store.appendAuditEvent(entry({ userId, details: { own: "last" } }), small);
      const kept = await read(userId, { count: 1000 });
      expect(kept.filter((e) => e.type === "SIGNED_IN").map((e) => e.details.own)).toEqual(["last", "first"]);
      const attempts = kept.filter((e) => e.type === "LOGIN_FAILED");
      expect(attempts.length).toBeGreaterThanOrEqual(50);
      expect(attempts.length).toBeLessThan(250);
      expect(attempts[0]!.details.i).toBe(399);
      expect(kept[0]!.details.own).toBe("last");
      // The global stream holds every event, in the order written.
      expect((await read(null, { count: 2 })).map((e) => e.details.own ?? e.details.i)).toEqual(["last", 399]);
    });

    it("reads a user's two streams as one, newest first, under ids that never coincide, page after page", async () => {
      const userId = randomUUID();
      // Written back to back, many in one millisecond: the two streams' ids must still differ.
      for (let i = 0; i < 40; i++) await store.appendAuditEvent(entry({ userId, details: { i } }), retention, i % 3 === 0 ? "attempts" : "history");
      const all = await read(userId);
      expect(all.map((e) => e.details.i)).toEqual(Array.from({ length: 40 }, (_, i) => 39 - i));
      expect(new Set(all.map((e) => e.id)).size).toBe(40);
      const paged: unknown[] = [];
      let before: string | undefined;
      for (;;) {
        const page = await read(userId, { count: 7, ...(before ? { before } : {}) });
        paged.push(...page.map((e) => e.details.i));
        if (page.length < 7) break;
        before = page.at(-1)!.id;
      }
      expect(paged).toEqual(all.map((e) => e.details.i));
    });

    it("trims events older than maxAgeMs, and drops a stream whose newest event is that old", async () => {
      const userId = randomUUID();
      for (let i = 0; i < 300; i++) await store.appendAuditEvent(entry({ userId, details: { i } }), retention);
      await h.advance(60);
      await store.appendAuditEvent(entry({ userId, details: { i: 300 } }), { ...retention, maxAgeMs: 30 });
      const kept = await read(userId, { count: 1000 });
      expect(kept[0]!.details.i).toBe(300);
      expect(kept.length).toBeLessThan(300);
      await h.advance(60);
      expect(await read(userId)).toEqual([]);
    });
  });

  describe("the audit tail", () => {
    const retention: AuditRetention = { maxAgeMs: 3_600_000, maxPerUser: 1000, maxGlobal: 100_000 };
    const entry = (userId: string, i: number): AuditEntry => ({
      eventId: randomUUID(),
      type: "SIGNED_IN",
      actorId: null,
      userId,
      sessionId: randomUUID(),
      clientIp: "203.0.113.8",
      userAgent: "Mozilla/5.0 (tail)",
      device: "phone",
      details: { i },
    });
    const tails: AuditTail[] = [];
    const open = async () => {
      const tail = await store.openAuditTail();
      tails.push(tail);
      return tail;
    };
    afterEach(() => tails.splice(0).forEach((tail) => tail.close()));

    it("reads only what was appended after it opened, oldest first, as readAuditEvents gives it", async () => {
      const userId = randomUUID();
      await store.appendAuditEvent(entry(userId, 0), retention);
      const tail = await open();
      for (let i = 1; i <= 3; i++) await store.appendAuditEvent(entry(userId, i), retention);
      const read = await tail.read(1000, 100);
      expect(read.map((record) => record.details.i)).toEqual([1, 2, 3]);
      const stored = await store.readAuditEvents({ userId: null, before: null, from: null, to: null, count: 3 });
      expect(read).toEqual(stored.reverse());
    });

    it("waits for the next append, up to blockMs, and answers empty when none comes", async () => {
      const tail = await open();
      const started = Date.now();
      expect(await tail.read(150, 10)).toEqual([]);
      expect(Date.now() - started).toBeGreaterThanOrEqual(100);
      const userId = randomUUID();
      const waiting = tail.read(5000, 10);
      setTimeout(() => void store.appendAuditEvent(entry(userId, 7), retention), 50);
      const [record] = await waiting;
      expect(record).toMatchObject({ userId, details: { i: 7 } });
      expect(Date.now() - started).toBeLessThan(2000);
    });

    it("hands over a burst in reads of at most count, skipping and repeating nothing", async () => {
      const userId = randomUUID();
      const tail = await open();
      for (let i = 0; i < 250; i++) await store.appendAuditEvent(entry(userId, i), retention);
      const seen: unknown[] = [];
      for (let reads = 0; seen.length < 250 && reads < 10; reads++) {
        const batch = await tail.read(1000, 100);
        expect(batch.length).toBeLessThanOrEqual(100);
        seen.push(...batch.map((record) => record.details.i));
      }
      expect(seen).toEqual(Array.from({ length: 250 }, (_, i) => i));
    });

    it("keeps each tail's own position", async () => {
      const userId = randomUUID();
      const first = await open();
      await store.appendAuditEvent(entry(userId, 1), retention);
      const second = await open();
      await store.appendAuditEvent(entry(userId, 2), retention);
      expect((await first.read(1000, 10)).map((record) => record.details.i)).toEqual([1, 2]);
      expect((await second.read(1000, 10)).map((record) => record.details.i)).toEqual([2]);
    });

    it("ends a pending read at once, empty, when closed", async () => {
      const tail = await open();
      const started = Date.now();
      const waiting = tail.read(8000, 10);
      setTimeout(() => tail.close(), 50);
      expect(await waiting).toEqual([]);
      expect(Date.now() - started).toBeLessThan(2000);
      expect(await tail.read(8000, 10)).toEqual([]);
    });
  });
}
