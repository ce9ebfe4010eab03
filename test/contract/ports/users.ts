import { randomUUID } from "node:crypto";
import { compareUserPositions, type TransitionStore, type UserFilter, type UserPage, type UserPosition, type UserRecord, type UserStore } from "../../../src/store/store";
import { newUser, userFixtures, type ContractHarness } from "./harness";

/** The directory's users (UserStore): a directory backend runs this alone. */
export function usersContract(harness: () => ContractHarness<UserStore>) {
  let h: ContractHarness<UserStore>, store: UserStore;
  beforeAll(() => void ({ store } = h = harness()));
  const { withUser } = userFixtures(() => h);

  /**
   * Follows every page from `after`, running `between` after each; returns every user seen. A page
   * may stop short of `first` (a bounded scan): the next one starts from its resumeAfter.
   */
  const walk = async (
    first: number,
    between: (page: UserPage) => Promise<void> = async () => undefined,
    filter: UserFilter | null = null,
    after: UserPosition | null = null,
  ) => {
    const seen: UserRecord[] = [];
    for (let pages = 0; pages < 10_000; pages++) {
      const page: UserPage = await store.listUsers({ first, after, filter });
      expect(page.users.length).toBeLessThanOrEqual(first);
      seen.push(...page.users);
      await between(page);
      if (!page.hasNextPage) return { seen, last: page };
      after = page.resumeAfter ?? page.users.at(-1)!;
    }
    throw new Error("never reached the last page");
  };

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

  describe("users(filter:)", () => {
    /** Users whose addresses share a tag no other test's do, so a filter on it sees only them. */
    const tagged = () => {
      const tag = `tag${randomUUID().slice(0, 8)}`;
      const make = (overrides: Partial<UserRecord> = {}) => withUser({ email: `${tag}-${randomUUID()}@example.com`, ...overrides });
      return { tag, make };
    };
    const idsOf = (users: readonly UserRecord[]) => users.map((user) => user.id);
    const listed = async (filter: UserFilter, first = 2) => {
      const { seen } = await walk(first, async () => undefined, filter);
      const { totalCount } = await store.listUsers({ first, after: null, filter });
      return { ids: idsOf(seen), totalCount };
    };

    it("filters by each field, and by all of them together", async () => {
      const { tag, make } = tagged();
      const t = Date.now();
      const user = await make({ createdAt: t });
      const admin = await make({ createdAt: t + 1, roles: ["USER", "ADMIN"] });
      const disabled = await make({ createdAt: t + 2, disabled: true });
      const disabledAdmin = await make({ createdAt: t + 3, roles: ["ADMIN"], disabled: true });
      await withUser({ createdAt: t + 4, roles: ["ADMIN"], disabled: true }); // not tagged
      const everyone = idsOf([user, admin, disabled, disabledAdmin]);

      expect(await listed({ emailContains: tag })).toEqual({ ids: everyone, totalCount: 4 });
      expect(await listed({ emailContains: tag.toUpperCase() })).toEqual({ ids: everyone, totalCount: 4 });
      expect(await listed({ emailContains: tag, role: "ADMIN" })).toEqual({ ids: idsOf([admin, disabledAdmin]), totalCount: 2 });
      expect(await listed({ emailContains: tag, role: "USER" })).toEqual({ ids: idsOf([user, admin, disabled]), totalCount: 3 });
      expect(await listed({ emailContains: tag, disabled: true })).toEqual({ ids: idsOf([disabled, disabledAdmin]), totalCount: 2 });
      expect(await listed({ emailContains: tag, disabled: false })).toEqual({ ids: idsOf([user, admin]), totalCount: 2 });
      expect(await listed({ emailContains: tag, createdAfter: t + 1 })).toEqual({ ids: idsOf([disabled, disabledAdmin]), totalCount: 2 });
      expect(await listed({ emailContains: tag, role: "ADMIN", disabled: true, createdAfter: t })).toEqual({ ids: idsOf([disabledAdmin]), totalCount: 1 });
      expect(await listed({ emailContains: tag, role: "ADMIN", disabled: false, createdAfter: t + 1 })).toEqual({ ids: [], totalCount: 0 });
      expect(await listed({ emailContains: `${tag}-nobody` })).toEqual({ ids: [], totalCount: 0 });
      // Null and absent conditions alike impose nothing.
      expect(await listed({ emailContains: tag, role: null, disabled: null, createdAfter: null })).toEqual({ ids: everyone, totalCount: 4 });
      // An enabled admin counts toward the last-admin guard of every later suite (in Postgres, every
      // row does): demoted again where the store can, so the guard's tests find what they left.
      await (store as Partial<Pick<TransitionStore, "changeAccess">>).changeAccess?.(admin.id, { roles: ["USER"], disabled: false }, false);
    });

    it("lists exactly the users created after createdAfter, with their count", async () => {
      const t = Date.now();
      await Promise.all([withUser({ createdAt: t }), withUser({ createdAt: t + 1 }), withUser({ createdAt: t + 2 })]);
      const { seen: everyone } = await walk(100);
      const later = idsOf(everyone.filter((user) => user.createdAt > t));
      expect(later.length).toBeGreaterThanOrEqual(2);
      expect(await listed({ createdAfter: t }, 100)).toEqual({ ids: later, totalCount: later.length });
      expect(await listed({ createdAfter: t }, 1)).toEqual({ ids: later, totalCount: later.length });
    });

    it("pages through a filtered list, each match exactly once and in order, while users are added", async () => {
      const { tag, make } = tagged();
      const t = Date.now();
      const matches: UserRecord[] = [];
      for (let i = 0; i < 9; i++) {
        const admin = i % 3 !== 1;
        // Admins disabled, as everywhere below: enabled ones would count toward the last-admin guard.
        const made = await make({ createdAt: t + Math.floor(i / 2), roles: admin ? ["ADMIN"] : ["USER"], disabled: admin });
        if (admin) matches.push(made);
      }
      const filter: UserFilter = { emailContains: tag, role: "ADMIN" };
      const added: UserRecord[] = [];
      const { seen, last } = await walk(
        2,
        async (page) => {
          if (!page.hasNextPage || added.length >= 4) return;
          added.push(await make({ createdAt: t + 60_000 + added.length, roles: ["USER", "ADMIN"], disabled: true }));
          await make({ createdAt: t + 60_000 + added.length, roles: ["USER"] });
        },
        filter,
      );
      expect(idsOf(seen)).toEqual(idsOf([...matches.sort(compareUserPositions), ...added]));
      expect(last.totalCount).toBe(seen.length);
    });

    it("counts every match on every page, not only those after the cursor", async () => {
      const { tag, make } = tagged();
      const t = Date.now();
      for (let i = 0; i < 5; i++) await make({ createdAt: t + i, disabled: i % 2 === 0 });
      const filter: UserFilter = { emailContains: tag, disabled: true };
      const first = await store.listUsers({ first: 1, after: null, filter });
      expect(first.totalCount).toBe(3);
      const next = await store.listUsers({ first: 1, after: first.resumeAfter ?? first.users.at(-1)!, filter });
      expect(next.totalCount).toBe(3);
      // Without countTotal the page is the same; a backend may leave the count out.
      const uncounted = await store.listUsers({ first: 1, after: null, filter, countTotal: false });
      expect(idsOf(uncounted.users)).toEqual(idsOf(first.users));
      expect([3, null]).toContain(uncounted.totalCount);
    });

    it("takes a cursor from another filter, or none, as a place in the order", async () => {
      const { tag, make } = tagged();
      const t = Date.now();
      const made = [];
      for (let i = 0; i < 6; i++) made.push(await make({ createdAt: t + i, roles: i % 2 === 0 ? ["ADMIN"] : ["USER"], disabled: i % 2 === 0 }));
      const { seen } = await walk(100, async () => undefined, { emailContains: tag, role: "USER" });
      const from = seen[0]!; // made[1]
      const { seen: after } = await walk(2, async () => undefined, { emailContains: tag, role: "ADMIN" }, from);
      expect(idsOf(after)).toEqual(idsOf([made[2]!, made[4]!]));
    });
  });
}
