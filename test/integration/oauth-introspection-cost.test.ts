import { openid } from "../../src/auth/federation/openid";
import { CONNECTION_NAME } from "../../src/store/redis/redis-store";
import type { TestApi } from "../support/api";
import { PASSWORD, register, uniqueEmail } from "../support/client";
import { authorizeInBrowser, CookieJar, registerClient, startOAuthApi } from "../support/oauth";
import { commandsSentBy, startRedis, type TestRedis } from "../support/redis";

type Configuration = import("openid-client", { with: { "resolution-mode": "import" } }).Configuration;

// Issue 28's structure target: introspection of an active access token is one Redis round trip
// after the token's signature check, as the per-request check at /graphql is.
const CALLBACK = "http://127.0.0.1:9/callback";
const SECRET = "a-client-secret-that-is-long-and-random-0123456789";
let redis: TestRedis;
let api: TestApi & { issuer: string };

beforeAll(async () => {
  redis = await startRedis();
  api = await startOAuthApi(redis.url);
  await registerClient(api, { clientId: "web-app", redirectUris: [CALLBACK], grantTypes: ["authorization_code", "refresh_token"], scopes: ["openid", "email", "api"] }, SECRET);
});
afterAll(async () => {
  await api?.stop();
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
  it("costs one Redis command after the signature check when the token is active, besides client authentication", async () => {
    const { config, token } = await accessToken();
    expect((await openid.tokenIntrospection(config, token)).active).toBe(true); // warms the client and loads scripts
    const requests = 5;
    const commands = await commandsSentBy(redis, CONNECTION_NAME, async () => {
      for (let i = 0; i < requests; i++) expect((await openid.tokenIntrospection(config, token)).active).toBe(true);
    });
    // Per request: the client (client authentication, before the token is looked at), then the
    // revocation read, the same MGET as /graphql's. A background job's script (the back-channel
    // outbox) may run meanwhile; it is not the requests'.
    const perRequest = ["get", "mget"];
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
