import { randomUUID } from "node:crypto";
import { compareUserPositions, type UserPage, type UserPosition, type UserRecord, type UserStore } from "../../../src/store/store";
import { newUser, userFixtures, type ContractHarness } from "./harness";

/** The directory's users (UserStore): a directory backend runs this alone. */
export function usersContract(harness: () => ContractHarness<UserStore>) {
  let h: ContractHarness<UserStore>, store: UserStore;
  beforeAll(() => void ({ store } = h = harness()));
  const { withUser } = userFixtures(() => h);

  describe("users", () => {
    it("stores a user and finds it by email, with its password hash", async () => {
      const user = await withUser();
      expect(await store.findUserIdByEmail(user.email)).toBe(user.id);
      expect(await store.getUser(user.id)).toEqual(user);
      expect(await store.getCredentials(user.id)).toEqual({ user, passwordHash: "hash-of-" + user.id });
    });

    it("refuses a second user with the same email and keeps the first", async () => {
      const first = await withUser();
      const second = newUser({ email: first.email });
      expect(await store.createUser(second, "other")).toBe(false);
      expect(await store.findUserIdByEmail(first.email)).toBe(first.id);
      expect(await store.getUser(second.id)).toBeNull();
    });

    it("lets exactly one of many concurrent registrations of one email win", async () => {
      const email = newUser().email;
      const results = await Promise.all(Array.from({ length: 10 }, () => store.createUser(newUser({ email }), "h")));
      expect(results.filter(Boolean)).toHaveLength(1);
    });

    it("answers null for unknown users and emails", async () => {
      expect(await store.getUser(randomUUID())).toBeNull();
      expect(await store.getCredentials(randomUUID())).toBeNull();
      expect(await store.findUserIdByEmail("nobody@example.com")).toBeNull();
    });

    it("lists users oldest first", async () => {
      const a = await withUser({ createdAt: 1_000 });
      const b = await withUser({ createdAt: 2_000 });
      const ids = (await store.listUsers({ first: 100, after: null })).users.map((u) => u.id);
      expect(ids.indexOf(a.id)).toBeGreaterThanOrEqual(0);
      expect(ids.indexOf(a.id)).toBeLessThan(ids.indexOf(b.id));
    });

    /** Follows every page from the start, running `between` after each; returns every user seen. */
    const walk = async (first: number, between: (page: UserPage) => Promise<void> = async () => undefined) => {
      const seen: UserRecord[] = [];
      let after: UserPosition | null = null;
      for (let pages = 0; pages < 1_000; pages++) {
        const page: UserPage = await store.listUsers({ first, after });
        expect(page.users.length).toBeLessThanOrEqual(first);
        seen.push(...page.users);
        await between(page);
        if (!page.hasNextPage) return { seen, last: page };
        after = page.users.at(-1)!;
      }
      throw new Error("never reached the last page");
    };

    it("pages through users in (createdAt, id) order, each exactly once, while users are added", async () => {
      const ties = await Promise.all([1, 2, 3, 4].map(() => withUser({ createdAt: 1_500 })));
      const added: UserRecord[] = [];
      const later = Date.now() + 60_000;
      const { seen, last } = await walk(3, async (page) => {
        if (page.hasNextPage && added.length < 5) added.push(await withUser({ createdAt: later + added.length }));
      });
      const ids = seen.map((u) => u.id);
      expect(new Set(ids).size).toBe(ids.length);
      for (let i = 1; i < seen.length; i++) expect(compareUserPositions(seen[i - 1]!, seen[i]!)).toBeLessThan(0);
      const tieIds = ties.map((u) => u.id).sort();
      expect(ids.filter((id) => tieIds.includes(id))).toEqual(tieIds);
      expect(ids.slice(-added.length)).toEqual(added.map((u) => u.id));
      expect(last.totalCount).toBe(seen.length);
    });

    it("counts every user and says when no page follows", async () => {
      const { seen } = await walk(100);
      const first = await store.listUsers({ first: 1, after: null });
      expect(first.users).toHaveLength(1);
      expect(first.totalCount).toBe(seen.length);
      expect(first.hasNextPage).toBe(seen.length > 1);
      const end = await store.listUsers({ first: 5, after: seen.at(-1)! });
      expect(end).toEqual({ users: [], hasNextPage: false, totalCount: seen.length });
    });
  });
}
