import { LoginDocument, LogoutDocument, MeDocument, RefreshDocument, RefreshWithCookieDocument } from "../../schema/generated/graphql";
import { startApi, type TestApi } from "../support/api";
import { post, register, send, PASSWORD } from "../support/client";
import { startRedis, type TestRedis } from "../support/redis";

const STORE_TIMEOUT_MS = 400;
/** The documented bound: STORE_TIMEOUT_MS for a hung Redis, at once for an unreachable one; plus slack for CI. */
const BOUND_MS = STORE_TIMEOUT_MS + 600;

const origin = (api: TestApi) => api.url.replace(/\/graphql$/, "");
const timed = async <T>(work: () => Promise<T>): Promise<[T, number]> => {
  const started = Date.now();
  const result = await work();
  return [result, Date.now() - started];
};

async function waitUntilReady(api: TestApi): Promise<void> {
  const deadline = Date.now() + 15_000;
  while ((await fetch(`${origin(api)}/readyz`)).status !== 200) {
    if (Date.now() > deadline) throw new Error("never became ready");
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe("REVOCATION_FAILURE_MODE=closed (the default)", () => {
  let redis: TestRedis;
  let api: TestApi;
  let live: Awaited<ReturnType<typeof register>>;
  let revoked: Awaited<ReturnType<typeof register>>;

  beforeAll(async () => {
    redis = await startRedis();
    api = await startApi(redis.url, { STORE_TIMEOUT_MS: String(STORE_TIMEOUT_MS) });
    live = await register(api.url);
    revoked = await register(api.url);
    await send(api.url, LogoutDocument, {}, { token: revoked.accessToken });
  });
  afterAll(async () => {
    await api.stop();
    await redis.destroy();
  });

  it("answers 503 SERVICE_UNAVAILABLE within the bound while Redis is down, and recovers by itself", async () => {
    await redis.stop();

    const [me, meMs] = await timed(() => send(api.url, MeDocument, {}, { token: live.accessToken }));
    expect(me.status).toBe(503);
    expect(me.error).toMatchObject({ code: "SERVICE_UNAVAILABLE", reason: "STORE_UNAVAILABLE" });
    expect(meMs).toBeLessThan(BOUND_MS);
    expect(me.headers.get("retry-after")).toBe("1");

    const stillRevoked = await send(api.url, MeDocument, {}, { token: revoked.accessToken });
    expect(stillRevoked.status).toBe(503);
    expect(stillRevoked.data).toBeUndefined();

    const [loginResult, loginMs] = await timed(() => send(api.url, LoginDocument, { input: { email: live.user.email, password: PASSWORD } }));
    expect(loginResult.status).toBe(503);
    expect(loginResult.error?.code).toBe("SERVICE_UNAVAILABLE");
    expect(loginMs).toBeLessThan(BOUND_MS);
    expect(loginResult.headers.get("retry-after")).toBe("1");

    expect((await post(api.url, { query: "{ __typename }" })).status).toBe(200);
    expect((await post(api.url, { query: "{ __typename }" }, { token: live.accessToken })).status).toBe(503);
    expect((await fetch(`${origin(api)}/healthz`)).status).toBe(200);
    expect((await fetch(`${origin(api)}/readyz`)).status).toBe(503);

    await redis.start();
    await waitUntilReady(api);
    expect((await send(api.url, MeDocument, {}, { token: live.accessToken })).data?.me.id).toBe(live.user.id);
  });

  it("keeps revocations across a Redis restart on the same data (append-only file)", async () => {
    await redis.stop();
    await redis.start();
    await waitUntilReady(api);
    const result = await send(api.url, MeDocument, {}, { token: revoked.accessToken });
    expect(result.status).toBe(401);
    expect(result.error?.reason).toBe("TOKEN_REVOKED");
    expect((await send(api.url, MeDocument, {}, { token: live.accessToken })).status).toBe(200);
  });

  it("keeps a browser's refresh cookie through an outage: a 503 is no verdict on the token", async () => {
    const login = await send(api.url, LoginDocument, { input: { email: live.user.email, password: PASSWORD, refreshTokenInCookie: true } });
    const cookie = login.headers.getSetCookie().find((line) => line.startsWith("refresh_token="))!.split(";")[0]!;
    await redis.stop();
    try {
      const during = await send(api.url, RefreshWithCookieDocument, {}, { headers: { cookie } });
      expect(during.status).toBe(503);
      expect(during.headers.getSetCookie()).toEqual([]);
    } finally {
      await redis.start();
    }
    await waitUntilReady(api);
    const after = await send(api.url, RefreshWithCookieDocument, {}, { headers: { cookie } });
    expect(after.data?.refresh.accessToken).toEqual(expect.any(String));
  });

  it("a refresh cut off by a frozen Redis is retried after it wakes and gets the token the late rotation made", async () => {
    const graceHits = async () => Number(/^auth_refresh_grace_hits_total (\d+)$/m.exec(await (await fetch(`${origin(api)}/metrics`)).text())?.[1]);
    const user = await register(api.url);
    // One rotation first, so Redis has the script cached and runs it as sent when it wakes.
    const current = (await send(api.url, RefreshDocument, { refreshToken: user.refreshToken! })).data!.refresh;
    const hitsBefore = await graceHits();
    redis.pause();
    try {
      const cutOff = await send(api.url, RefreshDocument, { refreshToken: current.refreshToken! });
      expect(cutOff.status).toBe(503);
      expect(cutOff.error?.code).toBe("SERVICE_UNAVAILABLE");
    } finally {
      redis.resume();
    }
    await waitUntilReady(api);
    const retry = await send(api.url, RefreshDocument, { refreshToken: current.refreshToken! });
    expect(retry.error).toBeUndefined();
    expect(await graceHits()).toBe(hitsBefore + 1);
    const again = await send(api.url, RefreshDocument, { refreshToken: current.refreshToken! });
    expect(again.data!.refresh.refreshToken).toBe(retry.data!.refresh.refreshToken);
    expect((await send(api.url, MeDocument, {}, { token: retry.data!.refresh.accessToken })).data?.me.id).toBe(user.user.id);
    expect((await send(api.url, RefreshDocument, { refreshToken: retry.data!.refresh.refreshToken! })).data?.refresh.sessionId).toBe(user.sessionId);
  });

  it("does not hang when Redis stops answering: 503 after STORE_TIMEOUT_MS", async () => {
    redis.pause();
    try {
      const [result, ms] = await timed(() => send(api.url, MeDocument, {}, { token: live.accessToken }));
      expect(result.status).toBe(503);
      expect(ms).toBeGreaterThanOrEqual(STORE_TIMEOUT_MS - 50);
      expect(ms).toBeLessThan(BOUND_MS);
    } finally {
      redis.resume();
    }
    await waitUntilReady(api);
    expect((await send(api.url, MeDocument, {}, { token: live.accessToken })).status).toBe(200);
  });
});

describe("REVOCATION_FAILURE_MODE=open", () => {
  let redis: TestRedis;
  let api: TestApi;

  beforeAll(async () => {
    redis = await startRedis();
    api = await startApi(redis.url, { STORE_TIMEOUT_MS: String(STORE_TIMEOUT_MS), REVOCATION_FAILURE_MODE: "open" });
  });
  afterAll(async () => {
    await api.stop();
    await redis.destroy();
  });

  it("accepts a well-signed token on its signature alone while Redis is down, and counts it", async () => {
    const user = await register(api.url);
    await redis.stop();
    try {
      const accepted = await post(api.url, { query: "{ __typename }" }, { token: user.accessToken });
      expect(accepted.status).toBe(200);
      expect(accepted.data).toEqual({ __typename: "Query" });
      const forged = await post(api.url, { query: "{ __typename }" }, { token: `${user.accessToken}x` });
      expect(forged.status).toBe(401);
      const needsStore = await send(api.url, MeDocument, {}, { token: user.accessToken });
      expect(needsStore.status).toBe(503);
      expect(needsStore.error?.code).toBe("SERVICE_UNAVAILABLE");
      const metrics = await (await fetch(`${origin(api)}/metrics`)).text();
      expect(metrics).toMatch(/^auth_fail_open_acceptances_total 2$/m);
    } finally {
      await redis.start();
    }
    await waitUntilReady(api);
  });
});
