import { MeDocument, RefreshWithCookieDocument } from "../../schema/generated/graphql";
import type { TestApi } from "../support/api";
import { send, uniqueEmail } from "../support/client";
import { CookieJar, signInAtProvider, startApiWithProvider, visit, type TestProvider } from "../support/oidc";
import { startRedis, type TestRedis } from "../support/redis";

// A session refreshed for longer than REFRESH_TOKEN_TTL, against a real oidc-provider and Redis:
// the provider's back-channel logout must still find it. REFRESH_TOKEN_TTL is 6 s here, and the
// session is refreshed for 7.5 s, past the lifetime of its sign-in's refresh token and index entries.
// ACCESS_TOKEN_TTL is 5 s, not 1: the last access token must outlive the logout token's signing and
// delivery on a loaded machine, or the final check would see TOKEN_EXPIRED rather than TOKEN_REVOKED.
const ALICE = { login: "long-lived", email: uniqueEmail("long-lived") };

let redis: TestRedis, api: TestApi, provider: TestProvider, origin: string;

beforeAll(async () => {
  redis = await startRedis();
  ({ api, provider, origin } = await startApiWithProvider({
    redisUrl: redis.url,
    accounts: { [ALICE.login]: { email: ALICE.email, email_verified: true } },
    backchannelLogout: true,
    env: { ACCESS_TOKEN_TTL: "5", REFRESH_TOKEN_TTL: "6", APP_URL: "http://localhost:3000" },
  }));
}, 60_000);
afterAll(async () => {
  await api?.stop();
  await Promise.all([provider?.stop(), redis?.destroy()]);
});

const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

async function refresh(token: string): Promise<{ accessToken: string; refreshToken: string }> {
  const response = await fetch(api.url, {
    method: "POST",
    headers: { "content-type": "application/json", cookie: `refresh_token=${token}` },
    body: JSON.stringify({ query: "mutation { refresh { accessToken } }" }),
  });
  const body = (await response.json()) as { data?: { refresh: { accessToken: string } }; errors?: unknown };
  const next = /refresh_token=([^;]+)/.exec(response.headers.getSetCookie().join("\n"))?.[1];
  if (!body.data || !next) throw new Error(`refresh failed: ${JSON.stringify(body.errors)}`);
  return { accessToken: body.data.refresh.accessToken, refreshToken: next };
}

it("records the provider, its sub and sid on the session, and ends it by them after it was refreshed past REFRESH_TOKEN_TTL", async () => {
  const jar = new CookieJar();
  const start = await visit(jar, `${origin}/auth/oidc/corp/start?redirect_to=${encodeURIComponent("http://localhost:3000/")}`);
  const callbackUrl = await signInAtProvider(jar, start.headers.get("location")!, ALICE.login, `${origin}/auth/oidc/corp/callback`);
  const done = await visit(jar, callbackUrl);
  let token = /refresh_token=([^;]+)/.exec(done.headers.getSetCookie().join("\n"))![1]!;
  let { accessToken } = await refresh(token).then((next) => ((token = next.refreshToken), next));
  const me = await send(api.url, MeDocument, {}, { token: accessToken });
  const [session] = await api.store.listSessions(me.data!.me.id);
  expect(session!.federation).toEqual({ provider: "corp", subject: ALICE.login, sid: expect.any(String) });
  // Kept alive by refreshes for longer than the sign-in's refresh-token lifetime.
  for (let i = 0; i < 3; i++) {
    await sleep(2500);
    ({ accessToken } = await refresh(token).then((next) => ((token = next.refreshToken), next)));
  }
  const now = Math.floor(Date.now() / 1000);
  const logoutToken = await provider.logoutToken({
    iss: provider.issuer,
    aud: "api-corp",
    iat: now,
    jti: `jti-${Math.random()}`,
    events: { "http://schemas.openid.net/event/backchannel-logout": {} },
    sid: session!.federation!.sid,
  });
  const posted = await fetch(`${origin}/auth/oidc/corp/backchannel-logout`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ logout_token: logoutToken }),
  });
  expect(posted.status).toBe(200);
  expect((await send(api.url, MeDocument, {}, { token: accessToken })).errors?.[0]?.extensions?.reason).toBe("TOKEN_REVOKED");
  const refused = await send(api.url, RefreshWithCookieDocument, {}, { headers: { cookie: `refresh_token=${token}` } });
  expect(refused.errors?.[0]?.extensions?.code).toBe("UNAUTHENTICATED");
}, 30_000);
