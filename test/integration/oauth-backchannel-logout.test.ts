import pino from "pino";
import { LogoutAllDocument, LogoutDocument, MeDocument, RevokeAppAccessDocument } from "../../schema/generated/graphql";
import { jose, openid } from "../../src/auth/federation/openid";
import { redisBackchannelLogout } from "../../src/store/redis/backchannel-logout";
import { singleNode } from "../../src/store/redis/connection";
import { connectRedisStore, type RedisStore } from "../../src/store/redis/redis-store";
import type { AuditRecord } from "../../src/store/store";
import { spawnApi, type TestApi } from "../support/api";
import { startRelyingParty, type RelyingParty } from "../support/backchannel-rp";
import { asymmetricEnv, claimsOf, newKey } from "../support/keys";
import { login, PASSWORD, register, send, uniqueEmail } from "../support/client";
import { authorizeInBrowser, CookieJar, registerClient, startOAuthApi } from "../support/oauth";
import { freePort } from "../support/ports";
import { startRedis, type TestRedis } from "../support/redis";

type Configuration = import("openid-client", { with: { "resolution-mode": "import" } }).Configuration;

// OpenID Connect Back-Channel Logout 1.0 from this API as a provider (issue 28): relying parties
// are openid-client 6 for the sign-in and a receiver in a process of its own that validates each
// logout token with jose alone against the published JWKS (test/support/backchannel-receiver.mjs).
const CALLBACK = "http://127.0.0.1:9/callback";
const SECRET = "a-client-secret-that-is-long-and-random-0123456789";
const FAST_RETRIES = { OAUTH_BACKCHANNEL_RETRY_MS: "100", OAUTH_BACKCHANNEL_TIMEOUT_MS: "1000", OAUTH_BACKCHANNEL_SWEEP_SECONDS: "1" };
const KEYS = asymmetricEnv([newKey("ES256")]);

let redis: TestRedis;
let a: TestApi & { issuer: string };
let b: TestApi & { issuer: string };
let rpPort: number;
let rp: RelyingParty | null = null;

const receiverOf = (clientId: string) => `http://127.0.0.1:${rpPort}/logout/${clientId}`;
const startRp = async () =>
  (rp = await startRelyingParty({
    port: rpPort,
    issuer: a.issuer,
    jwksUri: `${a.issuer}/oauth/jwks`,
    clients: Object.fromEntries(["app-a", "app-b", "app-c", "app-down", "app-reuse"].map((id) => [`/logout/${id}`, id])),
  }));

beforeAll(async () => {
  redis = await startRedis();
  rpPort = await freePort();
  a = await startOAuthApi(redis.url, { ...KEYS, ...FAST_RETRIES });
  // A second instance of the same deployment: same Redis, keys and issuer.
  b = await startOAuthApi(redis.url, { ...KEYS, ...FAST_RETRIES, OAUTH_ISSUER: a.issuer });
  for (const clientId of ["app-a", "app-b", "app-c", "app-down", "app-reuse"]) {
    await registerClient(a, { clientId, redirectUris: [CALLBACK], backchannelLogoutUri: receiverOf(clientId) }, SECRET);
  }
  await registerClient(a, { clientId: "app-silent", redirectUris: [CALLBACK] }, SECRET);
  await startRp();
});
afterAll(async () => {
  await rp?.stop();
  await b?.stop();
  await a?.stop();
  await redis?.destroy();
});

const rpConfig = (clientId: string): Promise<Configuration> =>
  openid.discovery(new URL(a.issuer), clientId, undefined, openid.ClientSecretBasic(SECRET), { execute: [openid.allowInsecureRequests] });

/** The user signs in at `clientId` through the provider (one browser: one session here); returns the client's tokens. */
async function signInAt(clientId: string, email: string, jar: CookieJar) {
  const config = await rpConfig(clientId);
  const verifier = openid.randomPKCECodeVerifier();
  const state = openid.randomState();
  const url = openid.buildAuthorizationUrl(config, { redirect_uri: CALLBACK, scope: "openid email api", code_challenge: await openid.calculatePKCECodeChallenge(verifier), code_challenge_method: "S256", state });
  const callback = await authorizeInBrowser(jar, url.href, email, PASSWORD, CALLBACK);
  return { config, tokens: await openid.authorizationCodeGrant(config, new URL(callback), { pkceCodeVerifier: verifier, expectedState: state }) };
}

async function newUser(): Promise<{ email: string; userId: string }> {
  const email = uniqueEmail("bcl");
  const { user } = await register(`${a.issuer}/graphql`, { email });
  return { email, userId: user.id };
}

const events = async (userId: string, type: string): Promise<AuditRecord[]> =>
  (await a.store.readAuditEvents({ userId, before: null, from: null, to: null, count: 200 })).filter((event) => event.type === type).reverse();

/** The user's audit events of `type`, once `count` are there: the trail is written just after each attempt's answer. */
async function eventsOnce(userId: string, type: string, count: number): Promise<AuditRecord[]> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const found = await events(userId, type);
    if (found.length >= count || Date.now() > deadline) return found;
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe("back-channel logout", () => {
  it("reaches every client of the session after logoutAll on another instance, each with its own signed token, which no endpoint takes for an access token", async () => {
    const { email, userId } = await newUser();
    const jar = new CookieJar();
    const atA = await signInAt("app-a", email, jar);
    const atB = await signInAt("app-b", email, jar);
    await signInAt("app-silent", email, jar);
    const sid = claimsOf(atA.tokens.access_token).sid;
    expect(claimsOf(atB.tokens.access_token).sid).toBe(sid);

    const own = await login(b.url, email);
    expect((await send(b.url, LogoutAllDocument, {}, { token: own.accessToken })).errors).toBeUndefined();

    for (const clientId of ["app-a", "app-b"]) {
      const [logout] = await rp!.waitFor(clientId);
      expect(logout).toMatchObject({ ok: true, header: { typ: "logout+jwt", alg: "ES256" } });
      expect(logout!.claims).toMatchObject({ iss: a.issuer, aud: clientId, sub: userId, sid, events: { "http://schemas.openid.net/event/backchannel-logout": {} } });
      expect(logout!.claims).not.toHaveProperty("nonce");
      expect(Number(logout!.claims!.exp) - Number(logout!.claims!.iat)).toBeLessThanOrEqual(120);
    }
    expect(rp!.received.filter((logout) => logout.ok === false)).toEqual([]);
    // Signed by the same keys, yet no access token: /graphql and introspection refuse it.
    const token = (await rp!.waitFor("app-a"))[0]!.token!;
    expect((await send(a.url, MeDocument, {}, { token })).error?.reason).toBe("INVALID_TOKEN");
    expect((await openid.tokenIntrospection(atA.config, token)).active).toBe(false);
    expect((await eventsOnce(userId, "OAUTH_BACKCHANNEL_LOGOUT_DELIVERED", 2)).map((event) => event.details.clientId).sort()).toEqual(["app-a", "app-b"]);
  });

  it("sends nothing to a client that holds no grant in the ended session, nor for another user's session", async () => {
    const first = await newUser();
    const second = await newUser();
    const jar = new CookieJar();
    await signInAt("app-a", first.email, jar);
    await signInAt("app-c", second.email, new CookieJar());
    const before = rp!.received.length;
    const own = await login(a.url, first.email);
    await send(a.url, LogoutAllDocument, {}, { token: own.accessToken });
    const [logout] = (await rp!.waitFor("app-a", rp!.received.filter((r) => r.clientId === "app-a").length + 1)).slice(-1);
    expect(logout!.claims!.sub).toBe(first.userId);
    await new Promise((r) => setTimeout(r, 500));
    expect(rp!.received.slice(before).map((r) => r.clientId)).toEqual(["app-a"]);
  });

  it("reaches the client when its grant ends (a refresh token replayed), while the session lives on", async () => {
    const { email, userId } = await newUser();
    const { config, tokens } = await signInAt("app-reuse", email, new CookieJar());
    await openid.refreshTokenGrant(config, tokens.refresh_token!);
    await expect(openid.refreshTokenGrant(config, tokens.refresh_token!)).rejects.toThrow();
    const [logout] = await rp!.waitFor("app-reuse");
    expect(logout!.claims).toMatchObject({ aud: "app-reuse", sub: userId, sid: claimsOf(tokens.access_token).sid });
  });

  it("reaches only the app whose access the user revoked (revokeAppAccess), for the session it was in", async () => {
    const { email, userId } = await newUser();
    const jar = new CookieJar();
    const { tokens } = await signInAt("app-b", email, jar);
    await signInAt("app-a", email, jar);
    const before = rp!.received.filter((r) => r.clientId === "app-a").length;
    const bBefore = rp!.received.filter((r) => r.clientId === "app-b").length;
    const own = await login(a.url, email);
    expect((await send(a.url, RevokeAppAccessDocument, { clientId: "app-b" }, { token: own.accessToken })).data?.revokeAppAccess).toBe(true);
    const [logout] = (await rp!.waitFor("app-b", bBefore + 1)).slice(-1);
    expect(logout!.claims).toMatchObject({ aud: "app-b", sub: userId, sid: claimsOf(tokens.access_token).sid });
    await new Promise((r) => setTimeout(r, 300));
    expect(rp!.received.filter((r) => r.clientId === "app-a")).toHaveLength(before);
  });

  it("is queued by the sweep when the session ended without its event (the instance died right after the write)", async () => {
    const { email, userId } = await newUser();
    const { tokens } = await signInAt("app-c", email, new CookieJar());
    const sid = String(claimsOf(tokens.access_token).sid);
    // The store's write alone, as a process killed between it and the revocation event leaves it.
    expect(await a.store.endSession(userId, sid)).not.toBeNull();
    const [logout] = await rp!.waitFor("app-c", 1, 10_000);
    expect(logout!.claims).toMatchObject({ aud: "app-c", sub: userId, sid });
  });

  it("is advertised in discovery, and the ID token carries the sid its logout token will (OIDC Back-Channel Logout 1.0 §2.4, §2.6), after a refresh too", async () => {
    const discovery = (await (await fetch(`${a.issuer}/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
    expect(discovery).toMatchObject({ backchannel_logout_supported: true, backchannel_logout_session_supported: true });
    const { email, userId } = await newUser();
    const { config, tokens } = await signInAt("app-a", email, new CookieJar());
    const jwks = jose.createRemoteJWKSet(new URL(`${a.issuer}/oauth/jwks`));
    const { payload: idToken } = await jose.jwtVerify(tokens.id_token!, jwks, { issuer: a.issuer, audience: "app-a", algorithms: ["ES256"] });
    const sid = claimsOf(tokens.access_token).sid;
    expect(typeof sid).toBe("string");
    expect(idToken.sid).toBe(sid);
    const refreshed = await openid.refreshTokenGrant(config, tokens.refresh_token!);
    expect((await jose.jwtVerify(refreshed.id_token!, jwks, { issuer: a.issuer, audience: "app-a", algorithms: ["ES256"] })).payload.sid).toBe(sid);

    const before = rp!.received.filter((r) => r.clientId === "app-a").length;
    const own = await login(b.url, email);
    expect((await send(b.url, LogoutAllDocument, {}, { token: own.accessToken })).errors).toBeUndefined();
    const [logout] = (await rp!.waitFor("app-a", before + 1)).slice(-1);
    expect(logout).toMatchObject({ ok: true, claims: { sub: userId, sid: idToken.sid } });
  });

  it("retries with backoff while the relying party is down, and delivers once it is up; each attempt audited", async () => {
    const { email, userId } = await newUser();
    const jar = new CookieJar();
    const { tokens } = await signInAt("app-down", email, jar);
    await rp!.stop();
    rp = null;
    const own = await login(a.url, email);
    await send(a.url, LogoutAllDocument, {}, { token: own.accessToken });
    const failed = await eventsOnce(userId, "OAUTH_BACKCHANNEL_LOGOUT_FAILED", 2);
    expect(failed.length).toBeGreaterThanOrEqual(2);
    expect(failed[0]!.details).toMatchObject({ clientId: "app-down", cause: "unreachable" });
    await startRp();
    const [logout] = await rp!.waitFor("app-down");
    expect(logout!.claims).toMatchObject({ aud: "app-down", sub: userId, sid: claimsOf(tokens.access_token).sid });
    expect((await eventsOnce(userId, "OAUTH_BACKCHANNEL_LOGOUT_DELIVERED", 1)).map((event) => event.details.clientId)).toEqual(["app-down"]);
  });
});

describe("back-channel logout on the embedded store", () => {
  it("is delivered from the in-memory queue of a single instance", async () => {
    const api = await startOAuthApi(null, { ...KEYS, ...FAST_RETRIES });
    const port = await freePort();
    const receiver = await startRelyingParty({ port, issuer: api.issuer, jwksUri: `${api.issuer}/oauth/jwks`, clients: { "/logout/app-a": "app-a" } });
    try {
      await registerClient(api, { clientId: "app-a", redirectUris: [CALLBACK], backchannelLogoutUri: `http://127.0.0.1:${port}/logout/app-a` }, SECRET);
      const email = uniqueEmail("bcl-memory");
      const { user } = await register(api.url, { email });
      const config = await openid.discovery(new URL(api.issuer), "app-a", undefined, openid.ClientSecretBasic(SECRET), { execute: [openid.allowInsecureRequests] });
      const verifier = openid.randomPKCECodeVerifier();
      const url = openid.buildAuthorizationUrl(config, { redirect_uri: CALLBACK, scope: "openid api", code_challenge: await openid.calculatePKCECodeChallenge(verifier), code_challenge_method: "S256" });
      const callback = await authorizeInBrowser(new CookieJar(), url.href, email, PASSWORD, CALLBACK);
      const tokens = await openid.authorizationCodeGrant(config, new URL(callback), { pkceCodeVerifier: verifier });
      const own = await login(api.url, email);
      await send(api.url, LogoutAllDocument, {}, { token: own.accessToken });
      const [logout] = await receiver.waitFor("app-a");
      expect(logout).toMatchObject({ ok: true, claims: { aud: "app-a", sub: user.id, sid: claimsOf(tokens.access_token).sid } });
    } finally {
      await receiver.stop();
      await api.stop();
    }
  });
});

describe("back-channel logout across a restart", () => {
  it("is delivered by the next process on the same Redis after the first was killed while the relying party was down", async () => {
    const own = await startRedis();
    const port = await freePort();
    const store: RedisStore = await connectRedisStore({ redis: singleNode(own.url), timeoutMs: 1000, connectWithinMs: 5000, logger: pino({ level: "silent" }) });
    const receiverPort = await freePort();
    const env = { ...KEYS, ...FAST_RETRIES, OAUTH_PROVIDER: "on", OAUTH_ISSUER: `http://localhost:${port}` };
    let receiver: RelyingParty | null = null;
    let second: Awaited<ReturnType<typeof spawnApi>> | null = null;
    try {
      await registerClient({ store } as unknown as TestApi, { clientId: "app-a", redirectUris: [CALLBACK], backchannelLogoutUri: `http://127.0.0.1:${receiverPort}/logout/app-a` }, SECRET);
      const first = await spawnApi(own.url, env);
      const email = uniqueEmail("bcl-restart");
      const { user, accessToken } = await register(first.url, { email });
      const sid = String(claimsOf(accessToken).sid);
      // The link oidc-provider's token issuance writes (tested above), written here for a session of the spawned process.
      await redisBackchannelLogout(store.core).linkBackchannelSession(user.id, sid, "app-a", Date.now(), 3600_000);
      await send(first.url, LogoutDocument, {}, { token: accessToken });
      const deadline = Date.now() + 10_000;
      while (!first.output().includes("oauth_backchannel_logout_failed") && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(first.output()).toContain("oauth_backchannel_logout_failed");
      expect(await first.stop("SIGKILL")).toBe("SIGKILL");
      second = await spawnApi(own.url, env);
      receiver = await startRelyingParty({ port: receiverPort, issuer: `http://localhost:${port}`, jwksUri: second.url.replace("/graphql", "/oauth/jwks"), clients: { "/logout/app-a": "app-a" } });
      const [logout] = await receiver.waitFor("app-a");
      expect(logout).toMatchObject({ ok: true, claims: { aud: "app-a", sub: user.id, sid } });
    } finally {
      await receiver?.stop();
      await second?.stop();
      await store.close();
      await own.destroy();
    }
  });
});
