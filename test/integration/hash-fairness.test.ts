import { LoginDocument } from "../../schema/generated/graphql";
import { OWASP_HASHING } from "../../src/auth/accounts/passwords";
import { startApi, type TestApi } from "../support/api";
import { PASSWORD, register, send } from "../support/client";

const from = (ip: string) => ({ headers: { "x-forwarded-for": ip } });
const ATTACKER = "203.0.113.7";
const BYSTANDER = "198.51.100.20";
/** The queue is measured against argon2 at its real cost: cheap hashes would finish before a queue forms. */
const REAL_COST = { passwordHashing: OWASP_HASHING };

describe("fair password hashing: a bounded queue in front of argon2, in turn by client IP", () => {
  describe("with the default limits", () => {
    let api: TestApi;
    beforeAll(async () => {
      api = await startApi(null, { TRUST_PROXY: "1", HASH_MAX_IN_FLIGHT: "2" }, REAL_COST);
    });
    afterAll(() => api.stop());

    it("serves a bystander's login in its turn while one client has fifty logins in flight, and still completes all fifty", async () => {
      // A few accounts of its own: each (account, IP) pair stays under LOGIN_MAX_FAILURES' in-flight count.
      const accounts = await Promise.all(Array.from({ length: 25 }, () => register(api.url)));
      const bystander = await register(api.url);
      const finished: string[] = [];
      const login = (email: string, ip: string, label: string) =>
        send(api.url, LoginDocument, { input: { email, password: PASSWORD } }, from(ip)).then((result) => {
          finished.push(label);
          return result;
        });
      const flood = Array.from({ length: 50 }, (_, i) => login(accounts[i % 25]!.user.email, ATTACKER, `attacker-${i}`));
      // Let the flood reach the server and queue up first.
      await new Promise((resolve) => setTimeout(resolve, 150));
      const mine = await login(bystander.user.email, BYSTANDER, "bystander");
      expect(mine.data?.login.user.id).toBe(bystander.user.id);
      const results = await Promise.all(flood);
      expect(results.filter((result) => !result.data?.login).map((result) => result.error)).toEqual([]);
      // In turn: at most the attacker's two in flight and a few that had started before the bystander came.
      expect(finished.indexOf("bystander")).toBeLessThan(12);
    }, 60_000);
  });

  describe("past the queue bound", () => {
    let api: TestApi;
    beforeAll(async () => {
      api = await startApi(null, { TRUST_PROXY: "1", HASH_MAX_IN_FLIGHT: "1", HASH_MAX_IN_FLIGHT_PER_IP: "1", HASH_QUEUE_MAX_PER_IP: "2" }, REAL_COST);
    });
    afterAll(() => api.stop());

    it("answers 429 LOGIN_THROTTLED with Retry-After to the client over its bound, and no one else", async () => {
      // Each attempt on its own account: no (account, IP) count is anywhere near its limit.
      const users = [];
      for (let i = 0; i < 12; i++) users.push(await register(api.url));
      const user = users[0]!;
      const attempts = await Promise.all(
        users.map((each) => send(api.url, LoginDocument, { input: { email: each.user.email, password: PASSWORD } }, from(ATTACKER))),
      );
      const refused = attempts.filter((result) => result.status === 429);
      expect(refused.length).toBeGreaterThan(0);
      expect(attempts.filter((result) => result.data?.login).length).toBeGreaterThanOrEqual(3);
      for (const result of refused) {
        expect(result.error).toMatchObject({ code: "TOO_MANY_REQUESTS", reason: "LOGIN_THROTTLED", message: expect.stringContaining("password checks") });
        expect(Number(result.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
      }
      const other = await send(api.url, LoginDocument, { input: { email: user.user.email, password: PASSWORD } }, from(BYSTANDER));
      expect(other.data?.login.user.id).toBe(user.user.id);
    }, 60_000);
  });
});
