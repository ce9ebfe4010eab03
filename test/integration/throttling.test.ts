import { ChangePasswordDocument, LoginDocument, RegisterDocument } from "../../schema/generated/graphql";
import { OWASP_HASHING } from "../../src/auth/accounts/passwords";
import { startApi, type TestApi } from "../support/api";
import { PASSWORD, register, send, uniqueEmail, type GraphQLResponse } from "../support/client";
import { startRedis, type TestRedis } from "../support/redis";

const WRONG = "not the right password";
const from = (ip: string) => ({ headers: { "x-forwarded-for": ip } });
/** How many answers gave each reason. */
const tally = (results: GraphQLResponse<unknown>[]) => {
  const counts: Record<string, number> = {};
  for (const result of results) counts[String(result.error?.reason ?? "OK")] = (counts[String(result.error?.reason ?? "OK")] ?? 0) + 1;
  return counts;
};
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Short windows so blocks can be waited out; the proxy in front (one hop) names the client. */
const SHORT_BLOCKS = { TRUST_PROXY: "1", LOGIN_BLOCK_SECONDS: "1", LOGIN_MAX_BLOCK_SECONDS: "4" };

describe.each([["redis"], ["memory"]])("throttling on the %s store", (storeKind) => {
  let redis: TestRedis | null = null;
  const apis: TestApi[] = [];

  beforeAll(async () => {
    if (storeKind === "redis") redis = await startRedis();
  });
  afterAll(async () => {
    for (const api of apis) await api.stop();
    await redis?.destroy();
  });

  // The cost of a real password check: the concurrent bursts below race real argon2 work.
  const start = async (env: Record<string, string>) => {
    const api = await startApi(redis?.url ?? null, env, { passwordHashing: OWASP_HASHING });
    apis.push(api);
    return api;
  };
  const loginAs = (api: TestApi, email: string, password: string, ip: string) =>
    send(api.url, LoginDocument, { input: { email, password } }, from(ip));

  /** Sends wrong passwords and returns their answers' reasons. */
  const failLogins = async (api: TestApi, email: string, ip: string, count: number) => {
    const reasons: unknown[] = [];
    for (let i = 0; i < count; i++) reasons.push((await loginAs(api, email, WRONG, ip)).error?.reason);
    return reasons;
  };

  const expectThrottled = (result: GraphQLResponse<unknown>, reason: string) => {
    expect(result.status).toBe(429);
    expect(result.error).toMatchObject({ code: "TOO_MANY_REQUESTS", reason });
    expect(result.data ?? null).toBeNull();
    const retryAfter = Number(result.headers.get("retry-after"));
    expect(Number.isInteger(retryAfter) && retryAfter >= 1).toBe(true);
    return retryAfter;
  };

  describe("login, per (email, client IP)", () => {
    let api: TestApi;
    beforeAll(async () => {
      api = await start(SHORT_BLOCKS);
    });

    it("answers the 6th wrong password with 429 and Retry-After, refuses the right one while blocked, accepts it after", async () => {
      const { user } = await register(api.url);
      expect(await failLogins(api, user.email, "203.0.113.10", 5)).toEqual(Array(5).fill("INVALID_CREDENTIALS"));

      expectThrottled(await loginAs(api, user.email, WRONG, "203.0.113.10"), "LOGIN_THROTTLED");
      expectThrottled(await loginAs(api, user.email, PASSWORD, "203.0.113.10"), "LOGIN_THROTTLED");

      await sleep(1500);
      const after = await loginAs(api, user.email, PASSWORD, "203.0.113.10");
      expect(after.status).toBe(200);
      expect(after.data?.login.user.id).toBe(user.id);
    });

    it("checks no more than LOGIN_MAX_FAILURES passwords from a burst of concurrent attempts", async () => {
      const { user } = await register(api.url);
      const burst = await Promise.all(Array.from({ length: 30 }, () => loginAs(api, user.email, WRONG, "203.0.113.15")));
      expect(tally(burst)).toEqual({ INVALID_CREDENTIALS: 5, LOGIN_THROTTLED: 25 });
      expectThrottled(await loginAs(api, user.email, PASSWORD, "203.0.113.15"), "LOGIN_THROTTLED");
    });

    it("does not block another client IP for the first one's failures", async () => {
      const { user } = await register(api.url);
      await failLogins(api, user.email, "203.0.113.20", 5);
      expectThrottled(await loginAs(api, user.email, PASSWORD, "203.0.113.20"), "LOGIN_THROTTLED");
      expect((await loginAs(api, user.email, PASSWORD, "203.0.113.21")).data?.login.user.id).toBe(user.id);
    });

    it("counts an IPv6 client by its /64", async () => {
      const { user } = await register(api.url);
      await failLogins(api, user.email, "2001:db8:0:7::1", 5);
      expectThrottled(await loginAs(api, user.email, PASSWORD, "2001:db8:0:7::abcd"), "LOGIN_THROTTLED");
      expect((await loginAs(api, user.email, PASSWORD, "2001:db8:0:8::1")).data?.login.user.id).toBe(user.id);
    });

    it("answers alike whether or not the email exists", async () => {
      // Blocks long enough to outlast the ten failures: with this block's 1 s, a loaded machine let
      // the first address's block end before the second's was checked.
      const longBlocks = await start({ TRUST_PROXY: "1", LOGIN_BLOCK_SECONDS: "60" });
      const { user } = await register(longBlocks.url);
      const unknown = uniqueEmail("nobody");
      for (let i = 0; i < 5; i++) {
        await loginAs(longBlocks, user.email, WRONG, "203.0.113.30");
        await loginAs(longBlocks, unknown, WRONG, "203.0.113.30");
      }
      const known = await loginAs(longBlocks, user.email, WRONG, "203.0.113.30");
      const missing = await loginAs(longBlocks, unknown, WRONG, "203.0.113.30");
      expectThrottled(known, "LOGIN_THROTTLED");
      expect([missing.status, missing.errors]).toEqual([known.status, known.errors]);
      // The same block from the same failure: both wait the block's length (less what has passed).
      for (const answer of [known, missing]) expect(Number(answer.headers.get("retry-after"))).toBeGreaterThanOrEqual(55);
      for (const answer of [known, missing]) expect(Number(answer.headers.get("retry-after"))).toBeLessThanOrEqual(60);
    });

    it("counts the email in its normalized form", async () => {
      const { user } = await register(api.url);
      await failLogins(api, user.email, "203.0.113.40", 5);
      expectThrottled(await loginAs(api, user.email.toUpperCase(), PASSWORD, "203.0.113.40"), "LOGIN_THROTTLED");
    });

    it("doubles the block each time the pair is blocked again", async () => {
      const { user } = await register(api.url);
      await failLogins(api, user.email, "203.0.113.50", 5);
      expect(expectThrottled(await loginAs(api, user.email, WRONG, "203.0.113.50"), "LOGIN_THROTTLED")).toBe(1);
      await sleep(1500);
      expect(await failLogins(api, user.email, "203.0.113.50", 5)).toEqual(Array(5).fill("INVALID_CREDENTIALS"));
      expect(expectThrottled(await loginAs(api, user.email, PASSWORD, "203.0.113.50"), "LOGIN_THROTTLED")).toBe(2);
    });

    it("starts the block over at its first length after a successful login", async () => {
      const { user } = await register(api.url);
      await failLogins(api, user.email, "203.0.113.55", 5);
      expectThrottled(await loginAs(api, user.email, WRONG, "203.0.113.55"), "LOGIN_THROTTLED");
      await sleep(1500);
      expect((await loginAs(api, user.email, PASSWORD, "203.0.113.55")).status).toBe(200);
      await failLogins(api, user.email, "203.0.113.55", 5);
      expect(expectThrottled(await loginAs(api, user.email, WRONG, "203.0.113.55"), "LOGIN_THROTTLED")).toBe(1);
    });

    it("clears the pair's failures on a successful login", async () => {
      const { user } = await register(api.url);
      await failLogins(api, user.email, "203.0.113.60", 4);
      expect((await loginAs(api, user.email, PASSWORD, "203.0.113.60")).status).toBe(200);
      expect(await failLogins(api, user.email, "203.0.113.60", 4)).toEqual(Array(4).fill("INVALID_CREDENTIALS"));
      expect((await loginAs(api, user.email, PASSWORD, "203.0.113.60")).data?.login.user.id).toBe(user.id);
    });
  });

  describe("changePassword, counted with login", () => {
    it("throttles wrong current passwords like wrong logins, sharing the (email, IP) pair", async () => {
      const api = await start(SHORT_BLOCKS);
      const { user, accessToken } = await register(api.url);
      const change = (currentPassword: string) =>
        send(api.url, ChangePasswordDocument, { currentPassword, newPassword: "a brand new password" }, { token: accessToken, ...from("203.0.113.30") });
      for (let i = 0; i < 4; i++) expect((await change(WRONG)).error?.reason).toBe("INVALID_CREDENTIALS");
      expect(await failLogins(api, user.email, "203.0.113.30", 1)).toEqual(["INVALID_CREDENTIALS"]);
      expectThrottled(await change(PASSWORD), "LOGIN_THROTTLED");
      expectThrottled(await loginAs(api, user.email, PASSWORD, "203.0.113.30"), "LOGIN_THROTTLED");
      expect((await loginAs(api, user.email, PASSWORD, "203.0.113.31")).data?.login.accessToken).toEqual(expect.any(String));
    });
  });

  describe("login, per client IP across accounts", () => {
    it(`refuses every login from an IP past LOGIN_MAX_FAILURES_PER_IP failures, and no other IP`, async () => {
      const api = await start({ ...SHORT_BLOCKS, LOGIN_MAX_FAILURES_PER_IP: "3", LOGIN_IP_WINDOW_SECONDS: "600" });
      const { user } = await register(api.url);
      for (let i = 0; i < 3; i++) {
        expect((await loginAs(api, uniqueEmail("stuffed"), WRONG, "198.51.100.7")).error?.reason).toBe("INVALID_CREDENTIALS");
      }
      expectThrottled(await loginAs(api, user.email, PASSWORD, "198.51.100.7"), "LOGIN_THROTTLED");
      expect((await loginAs(api, user.email, PASSWORD, "198.51.100.8")).data?.login.user.id).toBe(user.id);
    });

    it("checks no more than LOGIN_MAX_FAILURES_PER_IP passwords from a concurrent burst across accounts", async () => {
      const api = await start({ ...SHORT_BLOCKS, LOGIN_MAX_FAILURES_PER_IP: "3", LOGIN_IP_WINDOW_SECONDS: "600" });
      const burst = await Promise.all(Array.from({ length: 20 }, () => loginAs(api, uniqueEmail("stuffed"), WRONG, "198.51.100.9")));
      expect(tally(burst)).toEqual({ INVALID_CREDENTIALS: 3, LOGIN_THROTTLED: 17 });
    });

    it("does not count successful logins against the IP", async () => {
      const api = await start({ ...SHORT_BLOCKS, LOGIN_MAX_FAILURES_PER_IP: "3", LOGIN_IP_WINDOW_SECONDS: "600" });
      const { user } = await register(api.url);
      for (let i = 0; i < 5; i++) expect((await loginAs(api, user.email, PASSWORD, "198.51.100.10")).status).toBe(200);
      expect((await loginAs(api, uniqueEmail("stuffed"), WRONG, "198.51.100.10")).error?.reason).toBe("INVALID_CREDENTIALS");
    });
  });

  describe("register, per client IP", () => {
    it("refuses the registration past REGISTER_MAX_PER_IP with 429 REGISTER_THROTTLED, and no other IP", async () => {
      const api = await start({ ...SHORT_BLOCKS, REGISTER_MAX_PER_IP: "2" });
      const registerFrom = (ip: string) =>
        send(api.url, RegisterDocument, { input: { email: uniqueEmail(), password: PASSWORD } }, from(ip));
      expect((await registerFrom("192.0.2.1")).status).toBe(200);
      expect((await registerFrom("192.0.2.1")).status).toBe(200);
      const refused = await registerFrom("192.0.2.1");
      expectThrottled(refused, "REGISTER_THROTTLED");
      expect((await registerFrom("192.0.2.2")).data?.register.user.id).toBeDefined();
    });
  });

  describe("without TRUST_PROXY", () => {
    it("counts by the socket's address and ignores X-Forwarded-For", async () => {
      const api = await start({ LOGIN_BLOCK_SECONDS: "60" });
      const { user } = await register(api.url);
      await failLogins(api, user.email, "203.0.113.70", 5);
      expectThrottled(await loginAs(api, user.email, PASSWORD, "203.0.113.71"), "LOGIN_THROTTLED");
    });
  });
});
