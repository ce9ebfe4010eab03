import { createPrivateKey, createPublicKey, type JsonWebKey } from "node:crypto";
import jwt from "jsonwebtoken";
import { MeDocument, RefreshDocument } from "../../schema/generated/graphql";
import { startApi, TEST_AUDIENCE, TEST_ISSUER, type TestApi } from "../support/api";
import { register, send } from "../support/client";
import { asymmetricEnv, claimsOf, headerOf, newKey } from "../support/keys";
import { commandsSentBy, startRedis, type TestRedis } from "../support/redis";

let redis: TestRedis;
const apis: TestApi[] = [];
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await Promise.all(apis.map((api) => api.stop()));
  await redis.destroy();
});

async function api(env: Record<string, string>): Promise<TestApi> {
  const started = await startApi(redis.url, env);
  apis.push(started);
  return started;
}

const jwksUrl = (api: TestApi) => `http://localhost:${api.port}/.well-known/jwks.json`;

async function reasonFor(api: TestApi, token: string): Promise<unknown> {
  const result = await send(api.url, MeDocument, {}, { token });
  if (result.status === 200) return "accepted";
  expect(result.status).toBe(401);
  return result.error?.reason;
}

describe.each(["ES256", "RS256"] as const)("signing with %s", (algorithm) => {
  let server: TestApi;
  beforeAll(async () => {
    server = await api(asymmetricEnv([newKey(algorithm)]));
  });

  it("issues access tokens whose header names the algorithm and the kid, and accepts them", async () => {
    const payload = await register(server.url);
    expect(headerOf(payload.accessToken)).toEqual({ alg: algorithm, typ: "at+jwt", kid: server.config.jwt.signingKid });
    expect(await reasonFor(server, payload.accessToken)).toBe("accepted");
  });

  it("refreshes, with HMAC-signed refresh tokens that carry the signing kid", async () => {
    const payload = await register(server.url);
    expect(headerOf(payload.refreshToken!)).toEqual({ alg: "HS256", typ: "rt+jwt", kid: server.config.jwt.signingKid });
    const refreshed = await send(server.url, RefreshDocument, { refreshToken: payload.refreshToken! });
    expect(await reasonFor(server, refreshed.data!.refresh.accessToken)).toBe("accepted");
  });

  it("publishes the public key at /.well-known/jwks.json, cacheable for five minutes, and it verifies the tokens", async () => {
    const response = await fetch(jwksUrl(server));
    expect(response.status).toBe(200);
    expect(response.headers.get("cache-control")).toBe("public, max-age=300");
    const { keys } = (await response.json()) as { keys: JsonWebKey[] };
    expect(keys).toHaveLength(1);
    expect(keys[0]).toMatchObject({ kid: server.config.jwt.signingKid, alg: algorithm, use: "sig" });
    expect(keys[0]).not.toHaveProperty("d");
    const { accessToken, user } = await register(server.url);
    const publicKey = createPublicKey({ key: keys[0]!, format: "jwk" });
    expect(jwt.verify(accessToken, publicKey, { algorithms: [algorithm], issuer: TEST_ISSUER, audience: TEST_AUDIENCE })).toMatchObject({ sub: user.id });
  });

  it("refuses a token with an unknown kid, even one signed by a real key of the right type", async () => {
    const { accessToken } = await register(server.url);
    const stranger = newKey(algorithm);
    const forged = jwt.sign(claimsOf(accessToken), createPrivateKeyOf(stranger), { algorithm, header: { alg: algorithm, typ: "at+jwt", kid: stranger.kid } });
    expect(await reasonFor(server, forged)).toBe("INVALID_TOKEN");
    const relabelled = jwt.sign(claimsOf(accessToken), createPrivateKeyOf(stranger), { algorithm, header: { alg: algorithm, typ: "at+jwt", kid: server.config.jwt.signingKid! } });
    expect(await reasonFor(server, relabelled)).toBe("INVALID_TOKEN");
  });

  it("refuses the HS256 confusion attack: a token MACed with the published public key", async () => {
    const { accessToken } = await register(server.url);
    const published = (await (await fetch(jwksUrl(server))).json()) as { keys: JsonWebKey[] };
    const pem = createPublicKey({ key: published.keys[0]!, format: "jwk" }).export({ format: "pem", type: "spki" });
    const header = { alg: "HS256", typ: "at+jwt", kid: server.config.jwt.signingKid! };
    const forged = jwt.sign(claimsOf(accessToken), Buffer.from(pem), { algorithm: "HS256", header } as jwt.SignOptions);
    expect(await reasonFor(server, forged)).toBe("INVALID_TOKEN");
  });

  it("refuses a refresh token presented as a bearer token, and an access token presented to refresh", async () => {
    const payload = await register(server.url);
    expect(await reasonFor(server, payload.refreshToken!)).toBe("INVALID_TOKEN");
    const refreshed = await send(server.url, RefreshDocument, { refreshToken: payload.accessToken });
    expect(refreshed.error?.reason).toBe("INVALID_TOKEN");
  });
});

describe("a token refused on its key", () => {
  it("costs no Redis round trip", async () => {
    const server = await api(asymmetricEnv([newKey("ES256")]));
    const { accessToken } = await register(server.url);
    const stranger = newKey("ES256");
    const forged = jwt.sign(claimsOf(accessToken), createPrivateKeyOf(stranger), { algorithm: "ES256", header: { alg: "ES256", typ: "at+jwt", kid: stranger.kid } });
    const seen = await commandsSentBy(redis, null, async () => {
      expect(await reasonFor(server, forged)).toBe("INVALID_TOKEN");
      expect(await reasonFor(server, accessToken)).toBe("accepted");
    });
    // The genuine token's single MGET is the only command: the forged one cost nothing.
    expect(seen).toEqual(["mget"]);
  });
});

describe("keys of another type", () => {
  it("are refused: an ES256 token on an RS256 API, even under the API's own kid", async () => {
    const rsa = await api(asymmetricEnv([newKey("RS256")]));
    const { accessToken } = await register(rsa.url);
    const ec = newKey("ES256");
    const header = { alg: "ES256", typ: "at+jwt", kid: rsa.config.jwt.signingKid! };
    const forged = jwt.sign(claimsOf(accessToken), createPrivateKeyOf(ec), { algorithm: "ES256", header } as jwt.SignOptions);
    expect(await reasonFor(rsa, forged)).toBe("INVALID_TOKEN");
  });
});

describe("under HMAC", () => {
  it("answers 404 at /.well-known/jwks.json: there is no public key to publish", async () => {
    const hmac = await api({});
    expect((await fetch(jwksUrl(hmac))).status).toBe(404);
  });

  it("puts a kid in the header that names the secret without revealing it", async () => {
    const hmac = await api({});
    const { accessToken } = await register(hmac.url);
    const { kid } = headerOf(accessToken);
    expect(kid).toMatch(/^hs-[A-Za-z0-9_-]{16}$/);
    expect(await reasonFor(hmac, jwt.sign(claimsOf(accessToken), hmac.config.jwt.secret, { header: { alg: "HS256", typ: "at+jwt", kid: "other" } as jwt.JwtHeader }))).toBe("INVALID_TOKEN");
  });

  it("still accepts a kid-less token signed with JWT_SECRET, as issued before kids existed", async () => {
    const hmac = await api({});
    const { accessToken } = await register(hmac.url);
    const legacy = jwt.sign(claimsOf(accessToken), hmac.config.jwt.secret, { header: { alg: "HS256", typ: "at+jwt" } as jwt.JwtHeader });
    expect(await reasonFor(hmac, legacy)).toBe("accepted");
  });
});

const createPrivateKeyOf = (jwk: JsonWebKey) => createPrivateKey({ key: jwk, format: "jwk" });
