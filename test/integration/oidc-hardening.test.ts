import { LogoutDocument, MeDocument, MyIdentitiesDocument, RefreshWithCookieDocument, UnlinkIdentityDocument } from "../../schema/generated/graphql";
import { Redis } from "ioredis";
import { keys } from "@revocable-auth/verifier/internal";
import { startApi, type TestApi } from "../support/api";
import { send, uniqueEmail } from "../support/client";
import { closedWithin, openLive } from "../support/live";
import { CookieJar, signInAtProvider, startApiWithProvider, startProvider, visit, type TestProvider } from "../support/oidc";
import { freePort, startRedis, type TestRedis } from "../support/redis";

// The provider sign-in's review findings (issue 27), each through the public interface: the API on
// a real Redis, a real oidc-provider (test/support/oidc-provider.mjs) with back-channel logout.
const APP = "http://localhost:3000";
const person = (login: string) => ({ login, email: uniqueEmail(login) });
const U = person("unlinker");
const G = person("grower");
const H = person("hidden");
const L = person("leaver");
const S = person("sid-leaver");
const A = person("again");
const START_LIMIT = 5;
let redis: TestRedis, api: TestApi, provider: TestProvider, origin: string, client: Redis;

beforeAll(async () => {
  redis = await startRedis();
  ({ api, provider, origin } = await startApiWithProvider({
    redisUrl: redis.url,
    accounts: Object.fromEntries([U, G, H, L, S, A].map(({ login, email }) => [login, { email, email_verified: true }])),
    backchannelLogout: true,
    // A test of its own below counts the starts: every other start comes from another client IP.
    env: { APP_URL: APP, MAX_SESSIONS_PER_USER: "2", MFA_PENDING_MAX_PER_USER: "1", OIDC_START_MAX_PER_IP: String(START_LIMIT), TRUST_PROXY: "1" },
  }));
  client = new Redis(redis.url);
}, 60_000);
afterAll(async () => {
  client?.disconnect();
  await api?.stop();
  await Promise.all([provider?.stop(), redis?.destroy()]);
});

let clients = 0;
/** A browser of its own client IP (TRUST_PROXY=1): the start limit counts per client. */
function browser(ip = `203.0.113.${++clients % 250}`): { jar: CookieJar; headers: Record<string, string> } {
  return { jar: new CookieJar(), headers: { "x-forwarded-for": ip } };
}
const startUrl = () => `${origin}/auth/oidc/corp/start?redirect_to=${encodeURIComponent(`${APP}/`)}`;

async function untilCallback(login: string): Promise<{ jar: CookieJar; headers: Record<string, string>; url: string }> {
  const { jar, headers } = browser();
  const start = await visit(jar, startUrl(), { headers });
  expect(start.status).toBe(302);
  return { jar, headers, url: await signInAtProvider(jar, start.headers.get("location")!, login, `${origin}/auth/oidc/corp/callback`) };
}
async function finish({ jar, headers, url }: { jar: CookieJar; headers: Record<string, string>; url: string }): Promise<{ location: URL; refresh: string | undefined }> {
  const done = await visit(jar, url, { headers });
  return { location: new URL(done.headers.get("location")!), refresh: /refresh_token=([^;]+)/.exec(done.headers.getSetCookie().join("\n"))?.[1] };
}
async function signIn(login: string): Promise<string> {
  const { refresh } = await finish(await untilCallback(login));
  return refresh!;
}
const refresh = (token: string) => send(api.url, RefreshWithCookieDocument, {}, { headers: { cookie: `refresh_token=${token}` } });
async function accessOf(login: string): Promise<{ accessToken: string; userId: string }> {
  const accessToken = (await refresh(await signIn(login))).data!.refresh.accessToken;
  return { accessToken, userId: (await send(api.url, MeDocument, {}, { token: accessToken })).data!.me.id };
}
const EVENT = { "http://schemas.openid.net/event/backchannel-logout": {} };
async function logout(claims: { sub?: string; sid?: string }): Promise<number> {
  const token = await provider.logoutToken({ iss: provider.issuer, aud: "api-corp", iat: Math.floor(Date.now() / 1000), jti: `jti-${Math.random()}`, events: EVENT, ...claims });
  const posted = await fetch(`${origin}/auth/oidc/corp/backchannel-logout`, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: new URLSearchParams({ logout_token: token }) });
  return posted.status;
}

it("ends the sessions an identity started, and closes their sockets, when it is unlinked; the user's other sessions go on", async () => {
  const owner = await accessOf(U.login);
  expect(await api.store.linkIdentity({ id: `other:${U.login}`, provider: "other", subject: U.login, userId: owner.userId, email: U.email, linkedAt: Date.now() })).toBe("linked");
  const second = (await refresh(await signIn(U.login))).data!.refresh.accessToken;
  const live = await openLive(api.url, second);
  const unlinked = await send(api.url, UnlinkIdentityDocument, { id: `corp:${U.login}` }, { token: owner.accessToken });
  expect(unlinked.data).toEqual({ unlinkIdentity: true });
  // As for a removed passkey's sessions: the user ended them.
  expect(await closedWithin(live, 3000)).toEqual({ code: 4401, reason: "TOKEN_REVOKED" });
  for (const token of [owner.accessToken, second]) expect((await send(api.url, MeDocument, {}, { token })).errors?.[0]?.extensions?.reason).toBe("TOKEN_REVOKED");
});

it("keeps a provider's subject index to the sessions a user can hold, and takes an ended session out of it", async () => {
  for (let i = 0; i < 8; i++) await signIn(G.login);
  // MAX_SESSIONS_PER_USER=2: the sessions the cap ended left the index with them.
  expect(await client.zcard(keys.providerSessions("corp", "sub", G.login))).toBe(2);
  const { accessToken } = await accessOf(G.login);
  const index = async () => (await client.zrange(keys.providerSessions("corp", "sub", G.login), "0", "-1")).map((member) => member.split(" ")[1]);
  const me = (await send(api.url, MeDocument, {}, { token: accessToken })).data!.me;
  const [session] = (await api.store.listSessions(me.id)).sort((a, b) => b.createdAt - a.createdAt);
  expect(await index()).toContain(session!.id);
  expect((await send(api.url, LogoutDocument, {}, { token: accessToken })).data).toEqual({ logout: true });
  expect(await index()).not.toContain(session!.id);
  // Each index on a slot of its own: a provider's sessions spread over a Cluster.
  expect(keys.providerSessions("corp", "sub", G.login)).toContain(`{oidc:corp:sub:${G.login}}`);
  expect(keys.providerSessions("corp", "sid", "x")).toContain("{oidc:corp:sid:x}");
});

it("signs nobody in with an identity claim an unlink left behind, and releases the claim", async () => {
  const { accessToken, userId } = await accessOf(H.login);
  // The state after unlinkIdentity's script ran and its release of the {directory} claim failed, a while ago.
  const owner = keys.identityOwner("corp", H.login);
  const claim = JSON.parse((await client.get(owner))!) as { linkedAt: number };
  await client.set(owner, JSON.stringify({ ...claim, linkedAt: claim.linkedAt - 60_000 }));
  await client.hdel(keys.identities(userId), `corp:${H.login}`);
  expect((await send(api.url, MyIdentitiesDocument, {}, { token: accessToken })).data!.me.identities).toEqual([]);
  // The address is the account's, verified on both sides: the sign-in links the identity again, visibly.
  const again = await accessOf(H.login);
  expect(again.userId).toBe(userId);
  expect((await send(api.url, MyIdentitiesDocument, {}, { token: accessToken })).data!.me.identities.map((identity) => identity.id)).toEqual([`corp:${H.login}`]);
  const retry = await send(api.url, UnlinkIdentityDocument, { id: `corp:${H.login}` }, { token: accessToken });
  expect(retry.errors?.[0]?.extensions?.reason).toBe("LAST_CREDENTIAL");
});

it("refuses a sign-in in flight when the provider's back-channel logout by sub came before its callback", async () => {
  const flight = await untilCallback(L.login);
  expect(await logout({ sub: L.login })).toBe(200);
  const { location, refresh: token } = await finish(flight);
  expect(location.href).toBe(`${APP}/?error=OIDC_PROVIDER_ERROR`);
  expect(token).toBeUndefined();
  // A sign-in started after the logout is a new one.
  expect(await signIn(L.login)).toBeTruthy();
});

it("refuses a sign-in in flight when the logout names its provider session (sid)", async () => {
  // A first sign-in tells the provider session's sid; a second one in the same browser is in flight in it.
  const first = await untilCallback(S.login);
  const { refresh: token } = await finish(first);
  const { userId } = await (async () => {
    const accessToken = (await refresh(token!)).data!.refresh.accessToken;
    return { userId: (await send(api.url, MeDocument, {}, { token: accessToken })).data!.me.id };
  })();
  const sid = (await api.store.listSessions(userId))[0]!.federation!.sid!;
  const start = await visit(first.jar, startUrl(), { headers: first.headers });
  const url = await signInAtProvider(first.jar, start.headers.get("location")!, S.login, `${origin}/auth/oidc/corp/callback`);
  expect(await logout({ sid })).toBe(200);
  const { location, refresh: refused } = await finish({ ...first, url });
  expect(location.searchParams.get("error")).toBe("OIDC_PROVIDER_ERROR");
  expect(refused).toBeUndefined();
});

it("ends a session whose index entry was written before a logout that arrived during its sign-in", async () => {
  // The other order: the sign-in completes, then the logout: found by the index, as before.
  const token = await signIn(A.login);
  expect(await logout({ sub: A.login })).toBe(200);
  expect((await refresh(token)).errors?.[0]?.extensions?.reason).toBe("TOKEN_REVOKED");
});

it("answers 429 with Retry-After past OIDC_START_MAX_PER_IP starts from one client, storing no flow then", async () => {
  const { jar, headers } = browser("198.51.100.7");
  for (let i = 0; i < START_LIMIT; i++) expect((await visit(jar, startUrl(), { headers })).status).toBe(302);
  const flows = async () => (await client.keys("*oidc-flow*")).length;
  const before = await flows();
  const refused = await visit(jar, startUrl(), { headers });
  expect(refused.status).toBe(429);
  expect(Number(refused.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
  expect(((await refused.json()) as { errors: { extensions: { code: string } }[] }).errors[0]!.extensions.code).toBe("LOGIN_THROTTLED");
  expect(await flows()).toBe(before);
  // Another client is not held back.
  expect((await visit(new CookieJar(), startUrl(), { headers: { "x-forwarded-for": "198.51.100.8" } })).status).toBe(302);
});

it("scopes the flow cookie to its provider's routes over http, so a second provider's start cannot overwrite it", async () => {
  const { jar, headers } = browser();
  const start = await visit(jar, startUrl(), { headers });
  const line = start.headers.getSetCookie().find((cookie) => cookie.startsWith("oidc_flow="))!;
  expect(line).toMatch(/Path=\/auth\/oidc\/corp\//);
  expect(line).toMatch(/HttpOnly/);
});

describe("over https (PUBLIC_URL)", () => {
  const HTTPS = person("secure");
  let secureApi: TestApi, secureProvider: TestProvider, port: number;

  beforeAll(async () => {
    port = await freePort();
    secureProvider = await startProvider({
      clients: [{ client_id: "api-secure", client_secret: "secret-of-secure-0123456789", redirect_uris: [`https://localhost:${port}/auth/oidc/corp/callback`] }],
      accounts: { [HTTPS.login]: { email: HTTPS.email, email_verified: true } },
    });
    // TLS would end at a proxy in front: the API itself answers plain http on the port.
    secureApi = await startApi(redis.url, { PORT: String(port), PUBLIC_URL: `https://localhost:${port}`, APP_URL: APP, OIDC_PROVIDERS: "corp", OIDC_CORP_ISSUER: secureProvider.issuer, OIDC_CORP_CLIENT_ID: "api-secure", OIDC_CORP_CLIENT_SECRET: "secret-of-secure-0123456789" });
  }, 60_000);
  afterAll(async () => {
    await secureApi?.stop();
    await secureProvider?.stop();
  });

  it("names the flow cookie __Host-oidc_flow_<provider> and the link cookie __Host-oidc_link (Secure, Path=/), reads only those, and ignores a planted plain one", async () => {
    const plain = `http://localhost:${port}`;
    const jar = new CookieJar();
    const start = await visit(jar, `${plain}/auth/oidc/corp/start?redirect_to=${encodeURIComponent(`${APP}/`)}`);
    const line = start.headers.getSetCookie().find((cookie) => cookie.startsWith("__Host-oidc_flow_corp="))!;
    expect(line).toMatch(/; Path=\/(;|$)/);
    expect(line).toMatch(/Secure/);
    expect(line).not.toMatch(/Domain=/i);
    const back = new URL(await signInAtProvider(jar, start.headers.get("location")!, HTTPS.login, `https://localhost:${port}/auth/oidc/corp/callback`));
    const callback = `${plain}${back.pathname}${back.search}`;
    // A sibling subdomain can set `oidc_flow` (no prefix) for the parent domain: it names no flow here.
    const planted = new CookieJar();
    planted.set(plain, "oidc_flow", jar.get(plain, "__Host-oidc_flow_corp")!);
    expect(new URL((await visit(planted, callback)).headers.get("location")!).searchParams.get("error")).toBe("OIDC_STATE_MISMATCH");
    const done = await visit(jar, callback);
    expect(new URL(done.headers.get("location")!).href).toBe(`${APP}/`);
    const token = /refresh_token=([^;]+)/.exec(done.headers.getSetCookie().join("\n"))![1]!;
    // The link cookie, set by linkIdentityUrl's answer, is a __Host- one too, and the link URL starts with it.
    const accessToken = (await send(secureApi.url, RefreshWithCookieDocument, {}, { headers: { cookie: `refresh_token=${token}` } })).data!.refresh.accessToken;
    const asked = await fetch(secureApi.url, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${accessToken}` },
      body: JSON.stringify({ query: "mutation ($provider: String!, $redirectTo: String!) { linkIdentityUrl(provider: $provider, redirectTo: $redirectTo) }", variables: { provider: "corp", redirectTo: `${APP}/linked` } }),
    });
    const linkLine = asked.headers.getSetCookie().find((cookie) => cookie.startsWith("__Host-oidc_link="))!;
    expect(linkLine).toMatch(/; Path=\/(;|$)/);
    expect(linkLine).toMatch(/Secure/);
    const linkJar = new CookieJar();
    linkJar.store(plain, asked.headers);
    const linkUrl = new URL(((await asked.json()) as { data: { linkIdentityUrl: string } }).data.linkIdentityUrl);
    expect((await visit(linkJar, `${plain}${linkUrl.pathname}${linkUrl.search}`)).status).toBe(302);
  });
});
