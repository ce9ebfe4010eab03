import { CreateOAuthClientDocument, DeleteOAuthClientDocument, RotateOAuthClientSecretDocument } from "../../schema/generated/graphql";
import { openid } from "../../src/auth/federation/openid";
import { CONNECTION_NAME } from "../../src/store/redis/redis-store";
import { startApi, type TestApi } from "../support/api";
import { login, PASSWORD, register, send, uniqueEmail } from "../support/client";
import { asymmetricEnv, newKey } from "../support/keys";
import { authorizeInBrowser, CookieJar, registerClient, startOAuthApi } from "../support/oauth";
import { commandsSentBy, startRedis, type TestRedis } from "../support/redis";

type Configuration = import("openid-client", { with: { "resolution-mode": "import" } }).Configuration;

// Issue 28's structure target: introspection of an active access token is one Redis round trip
// after the token's signature check, as the per-request check at /graphql is. The client that
// authenticates is kept in memory for that (client-cache.ts); a change to it reaches every instance.
const CALLBACK = "http://127.0.0.1:9/callback";
const SECRET = "a-client-secret-that-is-long-and-random-0123456789";
const ADMIN_EMAIL = uniqueEmail("introspect-admin");
let redis: TestRedis;
let api: TestApi & { issuer: string };
/** A second instance of the same provider, on the same Redis. */
let other: TestApi;

beforeAll(async () => {
  redis = await startRedis();
  const key = newKey("ES256");
  api = await startOAuthApi(redis.url, { ...asymmetricEnv([key]), ADMIN_EMAIL, ADMIN_PASSWORD: PASSWORD });
  other = await startApi(redis.url, { ...asymmetricEnv([key]), OAUTH_PROVIDER: "on", OAUTH_ISSUER: api.issuer });
  await registerClient(api, { clientId: "web-app", redirectUris: [CALLBACK], grantTypes: ["authorization_code", "refresh_token"], scopes: ["openid", "email", "api"] }, SECRET);
});
afterAll(async () => {
  await Promise.all([api?.stop(), other?.stop()]);
  await redis?.destroy();
});

async function accessToken(): Promise<{ config: Configuration; token: string }> {
  const email = uniqueEmail("introspect");
  await register(`${api.issuer}/graphql`, { email });
  const config = await openid.discovery(new URL(api.issuer), "web-app", undefined, openid.ClientSecretBasic(SECRET), { execute: [openid.allowInsecureRequests] });
  const verifier = openid.randomPKCECodeVerifier();
  const state = openid.randomState();
  const url = openid.buildAuthorizationUrl(config, { redirect_uri: CALLBACK, scope: "openid api", code_challenge: await openid.calculatePKCECodeChallenge(verifier), code_challenge_method: "S256", state });
  const callback = await authorizeInBrowser(new CookieJar(), url.href, email, PASSWORD, CALLBACK);
  const tokens = await openid.authorizationCodeGrant(config, new URL(callback), { pkceCodeVerifier: verifier, expectedState: state });
  return { config, token: tokens.access_token };
}

describe("introspection of an access token", () => {
  it("costs one Redis command after the signature check when the token is active, its client kept from the first call", async () => {
    const { config, token } = await accessToken();
    expect((await openid.tokenIntrospection(config, token)).active).toBe(true); // warms the client and loads scripts
    const requests = 5;
    const commands = await commandsSentBy(redis, CONNECTION_NAME, async () => {
      for (let i = 0; i < requests; i++) expect((await openid.tokenIntrospection(config, token)).active).toBe(true);
    });
    // Per request: the revocation read, the same MGET as /graphql's; the client was read once, by
    // the first call. A background job's script (the back-channel outbox) may run meanwhile; it is
    // not the requests'.
    const perRequest = ["mget"];
    expect(commands.filter((command) => command !== "evalsha")).toEqual(Array(requests).fill(perRequest).flat());
  });

  it("says inactive for a handle presented in place of the token: a handle is made only after the signature check", async () => {
    const { config, token } = await accessToken();
    const { jti } = JSON.parse(Buffer.from(token.split(".")[1]!, "base64url").toString()) as { jti: string };
    expect((await openid.tokenIntrospection(config, `jwt~${jti}`)).active).toBe(false);
    expect((await openid.tokenIntrospection(config, token)).active).toBe(true);
  });

  it("says inactive for one of the API's own access tokens, which names no client of the provider", async () => {
    const { config } = await accessToken();
    const own = await register(`${api.issuer}/graphql`, { email: uniqueEmail("own") });
    expect((await openid.tokenIntrospection(config, own.accessToken)).active).toBe(false);
  });
});

describe("a client kept in memory by every instance", () => {
  /** Introspection at `on`'s endpoint with client_secret_basic: the HTTP status tells whether the client authenticated. */
  const introspect = (on: TestApi, clientId: string, secret: string) =>
    fetch(on.url.replace(/\/graphql$/, "/oauth/introspect"), {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", authorization: `Basic ${Buffer.from(`${clientId}:${secret}`).toString("base64")}` },
      body: new URLSearchParams({ token: "not-a-token" }),
    }).then((response) => response.status);

  it("is forgotten on the other instance when its secret is rotated or it is deleted: the old secret fails there at once", async () => {
    const admin = await login(api.url, ADMIN_EMAIL);
    const input = { name: "Partner portal", redirectUris: [CALLBACK], grantTypes: ["authorization_code"], scopes: ["openid", "api"] };
    const created = await send(api.url, CreateOAuthClientDocument, { input }, { token: admin.accessToken });
    if (!created.data) throw new Error(JSON.stringify(created.errors));
    const { clientId, clientSecret } = created.data.createOAuthClient;
    // Both instances now keep the client.
    expect(await introspect(api, clientId, clientSecret!)).toBe(200);
    expect(await introspect(other, clientId, clientSecret!)).toBe(200);
    const rotated = (await send(api.url, RotateOAuthClientSecretDocument, { clientId }, { token: admin.accessToken })).data!.rotateOAuthClientSecret;
    await until(async () => (await introspect(other, clientId, clientSecret!)) === 401);
    expect(await introspect(other, clientId, rotated.clientSecret!)).toBe(200);
    expect(await introspect(api, clientId, clientSecret!)).toBe(401);
    expect((await send(api.url, DeleteOAuthClientDocument, { clientId }, { token: admin.accessToken })).data?.deleteOAuthClient).toBe(true);
    await until(async () => (await introspect(other, clientId, rotated.clientSecret!)) === 401);
  });
});

/**
 * The announcement travels over Redis pub/sub, so it lands within milliseconds, not within the
 * mutation's answer: polled, with a bound far below CLIENT_KEPT_MS (30 s), past which the client
 * would be read again anyway and the test would prove nothing.
 */
async function until(check: () => Promise<boolean>, withinMs = 2_000): Promise<void> {
  const deadline = Date.now() + withinMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`not within ${withinMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
