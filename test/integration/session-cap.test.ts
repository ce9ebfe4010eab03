import { LoginDocument, MeDocument, SessionsDocument } from "../../schema/generated/graphql";
import { startApi, type TestApi } from "../support/api";
import { PASSWORD, register, send } from "../support/client";
import { startRedis, type TestRedis } from "../support/redis";

describe.each([
  ["redis", 50],
  ["memory", 3],
])("the session cap on the %s store (MAX_SESSIONS_PER_USER=%i)", (storeKind, max) => {
  let redis: TestRedis | null = null;
  let api: TestApi;

  beforeAll(async () => {
    if (storeKind === "redis") redis = await startRedis();
    api = await startApi(redis?.url ?? null, max === 50 ? {} : { MAX_SESSIONS_PER_USER: String(max) });
  });
  afterAll(async () => {
    await api.stop();
    await redis?.destroy();
  });

  it(`ends the 1st session when the ${max + 1}th starts: its tokens are refused at once`, async () => {
    const first = await register(api.url);
    const logins = [];
    for (let i = 1; i < max + 1; i++) {
      const result = await send(api.url, LoginDocument, { input: { email: first.user.email, password: PASSWORD } });
      logins.push(result.data!.login);
    }
    const newest = logins.at(-1)!;
    const sessions = await send(api.url, SessionsDocument, {}, { token: newest.accessToken });
    expect(sessions.data?.sessions).toHaveLength(max);
    expect(sessions.data?.sessions.map((s) => s.id)).not.toContain(first.sessionId);
    expect(sessions.data?.sessions.map((s) => s.id)).toContain(logins[0]!.sessionId);

    const me = await send(api.url, MeDocument, {}, { token: first.accessToken });
    expect(me.status).toBe(401);
    expect(me.error?.reason).toBe("TOKEN_REVOKED");
    expect((await send(api.url, MeDocument, {}, { token: logins[0]!.accessToken })).status).toBe(200);
  }, 120_000);
});
