import { randomUUID } from "node:crypto";
import pino from "pino";
import { AuditFeed, isOverflow, type AuditFeedItem } from "../../src/live/audit-feed";
import { Metrics } from "../../src/metrics";
import { MemoryStore } from "../../src/store/memory/memory-store";
import type { AuditEntry, AuditTail } from "../../src/store/store";

/** The feed on the embedded store (its real tail), as one instance runs it. */
const store = new MemoryStore({ now: () => Date.now() });
const retention = { maxAgeMs: 3_600_000, maxPerUser: 1000, maxGlobal: 100_000 };
let metrics: Metrics;
let tails: { opened: number; closed: number };
let feed: AuditFeed;

const newFeed = (maxQueued = 1000, roomWaitMs = 100) => {
  metrics = new Metrics();
  tails = { opened: 0, closed: 0 };
  // Counts what the feed opens and closes; the tail itself is the store's.
  const open = async (): Promise<AuditTail> => {
    const tail = await store.openAuditTail();
    tails.opened++;
    return { read: (blockMs, count) => tail.read(blockMs, count), close: () => (tails.closed++, tail.close()) };
  };
  feed = new AuditFeed({ open, logger: pino({ level: "silent" }), metrics, maxQueued, roomWaitMs });
};
afterEach(() => feed.close());
afterAll(() => store.close());

const append = (overrides: Partial<AuditEntry> = {}) =>
  store.appendAuditEvent({ eventId: randomUUID(), type: "SIGNED_IN", actorId: null, userId: randomUUID(), sessionId: null, clientIp: "203.0.113.9", userAgent: null, device: null, details: {}, ...overrides }, retention);

async function take(iterator: AsyncIterableIterator<AuditFeedItem>, count: number): Promise<(AuditFeedItem | "done")[]> {
  const items: (AuditFeedItem | "done")[] = [];
  while (items.length < count) {
    const next = await iterator.next();
    items.push(next.done ? "done" : next.value);
    if (next.done) break;
  }
  return items;
}

const typeOf = (item: AuditFeedItem | "done") => (item === "done" ? item : isOverflow(item) ? "OVERFLOW" : item.type);
const numberOf = (item: AuditFeedItem | "done") => (item !== "done" && !isOverflow(item) ? item.details.i : item);
const gauge = async (name: string) => (await metrics.registry.getSingleMetric(name)!.get()).values[0]?.value ?? 0;

describe("the audit feed", () => {
  it("delivers each event written after subscribing to every subscriber whose filter it passes, in order", async () => {
    newFeed();
    const userId = randomUUID();
    await append({ userId });
    const all = await feed.subscribe({});
    const failures = await feed.subscribe({ userId, types: ["LOGIN_FAILED"] });
    await append({ userId, type: "LOGIN_FAILED" });
    await append({ userId });
    await append({ userId, type: "LOGIN_FAILED", details: { n: 2 } });
    expect((await take(all, 3)).map(typeOf)).toEqual(["LOGIN_FAILED", "SIGNED_IN", "LOGIN_FAILED"]);
    expect(await take(failures, 2)).toEqual([expect.objectContaining({ type: "LOGIN_FAILED", details: {} }), expect.objectContaining({ type: "LOGIN_FAILED", details: { n: 2 } })]);
  });

  it("ends a subscriber LIVE_AUDIT_MAX_QUEUED events behind: its queued events, then the overflow, then done; the others go on", async () => {
    newFeed(3);
    const slow = await feed.subscribe({});
    const reader = await feed.subscribe({});
    const read: AuditFeedItem[] = [];
    const reading = (async () => {
      for await (const item of reader) if (read.push(item) === 6) break;
    })();
    for (let i = 0; i < 6; i++) await append({ details: { i } });
    await reading;
    expect(read.map(numberOf)).toEqual([0, 1, 2, 3, 4, 5]);
    const items = await take(slow, 10);
    expect(items.slice(0, 3).map(numberOf)).toEqual([0, 1, 2]);
    expect(items.slice(3).map(typeOf)).toEqual(["OVERFLOW", "done"]);
    expect(await gauge("auth_live_audit_overflows_total")).toBe(1);
  });

  it.each([100, 1000])("hands a burst larger than LIVE_AUDIT_MAX_QUEUED (%i) to a subscriber that keeps up, all of it, in order", async (maxQueued) => {
    // The wait for room is the one of production, so the test shows that it is not what delivers.
    newFeed(maxQueued, 1000);
    const subscription = await feed.subscribe({});
    const burst = Math.round(maxQueued * 1.2) + 2;
    let received = 0;
    const reading = (async () => {
      for await (const item of subscription) {
        expect(numberOf(item)).toBe(received);
        if (++received === burst) return;
        // One event per macrotask, as graphql-ws writes one socket message per event.
        await new Promise((resolve) => setImmediate(resolve));
      }
    })();
    await Promise.all(Array.from({ length: burst }, (_, i) => append({ details: { i } })));
    await reading;
    expect(received).toBe(burst);
    expect(await gauge("auth_live_audit_overflows_total")).toBe(0);
  });

  it("refuses a filter the query would refuse, with BAD_USER_INPUT, opening nothing", async () => {
    newFeed();
    await expect(feed.subscribe({ types: ["signed in"] })).rejects.toMatchObject({ code: "BAD_USER_INPUT" });
    await expect(feed.subscribe({ from: 2, to: 1 })).rejects.toMatchObject({ code: "BAD_USER_INPUT" });
    expect(tails.opened).toBe(0);
  });

  it("opens one tail for all its subscribers, closes it with the last, and opens a new one for the next", async () => {
    newFeed();
    const first = await feed.subscribe({});
    const second = await feed.subscribe({ types: ["SIGNED_IN"] });
    expect(tails).toEqual({ opened: 1, closed: 0 });
    expect(await gauge("auth_live_audit_subscriptions")).toBe(2);
    await first.return!();
    expect(tails).toEqual({ opened: 1, closed: 0 });
    await second.return!();
    expect(tails).toEqual({ opened: 1, closed: 1 });
    expect(await gauge("auth_live_audit_subscriptions")).toBe(0);
    const third = await feed.subscribe({});
    await append({ type: "PASSWORD_CHANGED" });
    expect(await take(third, 1)).toEqual([expect.objectContaining({ type: "PASSWORD_CHANGED" })]);
    expect(tails.opened).toBe(2);
  });

  it("completes every subscription and closes its tail when closed, and refuses new ones", async () => {
    newFeed();
    const subscription = await feed.subscribe({});
    const pending = subscription.next();
    feed.close();
    expect(await pending).toEqual({ value: undefined, done: true });
    expect(tails).toEqual({ opened: 1, closed: 1 });
    await expect(feed.subscribe({})).rejects.toMatchObject({ code: "SERVICE_UNAVAILABLE" });
  });
});
