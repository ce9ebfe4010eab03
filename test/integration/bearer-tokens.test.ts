import { createHmac } from "node:crypto";
import jwt from "jsonwebtoken";
import { MeDocument } from "../../schema/generated/graphql";
import { startApi, TEST_AUDIENCE, TEST_ISSUER, TEST_SECRET, type TestApi } from "../support/api";
import { register, send } from "../support/client";
import { startRedis, type TestRedis } from "../support/redis";

let redis: TestRedis;
let api: TestApi;
let valid: Awaited<ReturnType<typeof register>>;

beforeAll(async () => {
  redis = await startRedis();
  api = await startApi(redis.url);
  valid = await register(api.url);
});
afterAll(async () => {
  await api.stop();
  await redis.destroy();
});

const claimsOf = (token: string) => JSON.parse(Buffer.from(token.split(".")[1]!, "base64url").toString());
const forge = (claims: object, secret = TEST_SECRET, header: object = { typ: "at+jwt" }, algorithm: jwt.Algorithm = "HS256") =>
  jwt.sign(claims, secret, { algorithm, header: { alg: algorithm, ...header } as jwt.JwtHeader });
const b64 = (value: object) => Buffer.from(JSON.stringify(value)).toString("base64url");
/** A token whose signature is genuine over whatever header and payload it carries. */
const signedRaw = (header: string, payload: string) =>
  `Bearer ${header}.${payload}.${createHmac("sha256", TEST_SECRET).update(`${header}.${payload}`).digest("base64url")}`;

async function rejected(authorization: string) {
  const result = await send(api.url, MeDocument, {}, { headers: { authorization } });
  expect(result.status).toBe(401);
  expect(result.headers.get("www-authenticate")).toBe('Bearer error="invalid_token"');
  expect(result.error?.code).toBe("UNAUTHENTICATED");
  expect(JSON.stringify(result.errors)).not.toMatch(/stack|at [A-Za-z]+ \(/);
  return result.error?.reason;
}

describe("a presented bearer token that fails rejects the whole request with 401", () => {
  it("accepts the genuine token (the baseline the cases below tamper with)", async () => {
    const result = await send(api.url, MeDocument, {}, { token: valid.accessToken });
    expect(result.status).toBe(200);
    expect(result.data?.me.id).toBe(valid.user.id);
  });

  it("refuses a tampered signature", async () => {
    const [h, p, s] = valid.accessToken.split(".");
    const flipped = (s![0] === "A" ? "B" : "A") + s!.slice(1);
    expect(await rejected(`Bearer ${h}.${p}.${flipped}`)).toBe("INVALID_TOKEN");
  });

  it("refuses a tampered payload (roles raised to ADMIN) under the original signature", async () => {
    const [h, , s] = valid.accessToken.split(".");
    const payload = b64({ ...claimsOf(valid.accessToken), roles: ["USER", "ADMIN"] });
    expect(await rejected(`Bearer ${h}.${payload}.${s}`)).toBe("INVALID_TOKEN");
  });

  it("refuses a token whose header marks extensions critical (crit), even when genuinely signed", async () => {
    const claims = claimsOf(valid.accessToken);
    expect(await rejected(`Bearer ${forge(claims, TEST_SECRET, { typ: "at+jwt", crit: ["exp"] })}`)).toBe("INVALID_TOKEN");
  });

  it("refuses an access token that claims to live longer than ACCESS_TOKEN_TTL plus a minute's leeway", async () => {
    const claims = claimsOf(valid.accessToken);
    const ttl = api.config.accessTokenTtl;
    expect(await rejected(`Bearer ${forge({ ...claims, exp: claims.iat + ttl + 3600 })}`)).toBe("INVALID_TOKEN");
    expect(await rejected(`Bearer ${forge({ ...claims, exp: claims.iat + ttl + 61 })}`)).toBe("INVALID_TOKEN");
    const withinLeeway = await send(api.url, MeDocument, {}, { token: forge({ ...claims, exp: claims.iat + ttl + 30 }) });
    expect(withinLeeway.data?.me.id).toBe(valid.user.id);
  });

  it("refuses alg: none", async () => {
    const token = `${b64({ alg: "none", typ: "at+jwt" })}.${b64(claimsOf(valid.accessToken))}.`;
    expect(await rejected(`Bearer ${token}`)).toBe("INVALID_TOKEN");
  });

  it("refuses an algorithm other than the pinned one, even when signed with the right secret", async () => {
    expect(await rejected(`Bearer ${forge(claimsOf(valid.accessToken), TEST_SECRET, { typ: "at+jwt" }, "HS512")}`)).toBe("INVALID_TOKEN");
  });

  it("refuses a token signed with another secret", async () => {
    expect(await rejected(`Bearer ${forge(claimsOf(valid.accessToken), "another-secret-that-is-also-32-bytes-long!!")}`)).toBe("INVALID_TOKEN");
  });

  it("refuses an expired token with TOKEN_EXPIRED", async () => {
    const now = Math.floor(Date.now() / 1000);
    const claims = { ...claimsOf(valid.accessToken), iat: now - 1000, exp: now - 10 };
    expect(await rejected(`Bearer ${forge(claims)}`)).toBe("TOKEN_EXPIRED");
  });

  it("refuses a token for another audience or from another issuer", async () => {
    expect(await rejected(`Bearer ${forge({ ...claimsOf(valid.accessToken), aud: "someone-else" })}`)).toBe("INVALID_TOKEN");
    expect(await rejected(`Bearer ${forge({ ...claimsOf(valid.accessToken), iss: "someone-else" })}`)).toBe("INVALID_TOKEN");
    expect(TEST_AUDIENCE).not.toBe("someone-else");
    expect(TEST_ISSUER).not.toBe("someone-else");
  });

  it("refuses a refresh token presented as an access token", async () => {
    expect(await rejected(`Bearer ${valid.refreshToken}`)).toBe("INVALID_TOKEN");
  });

  it("refuses a correctly signed token without the access-token type", async () => {
    expect(await rejected(`Bearer ${forge(claimsOf(valid.accessToken), TEST_SECRET, {})}`)).toBe("INVALID_TOKEN");
  });

  it("refuses a correctly signed token with claims of the wrong shape", async () => {
    expect(await rejected(`Bearer ${forge({ ...claimsOf(valid.accessToken), roles: "ADMIN" })}`)).toBe("INVALID_TOKEN");
    expect(await rejected(`Bearer ${forge({ ...claimsOf(valid.accessToken), sid: 42 })}`)).toBe("INVALID_TOKEN");
  });

  it("refuses a well-signed token for a session that never existed with TOKEN_REVOKED", async () => {
    expect(await rejected(`Bearer ${forge({ ...claimsOf(valid.accessToken), sid: "made-up" })}`)).toBe("TOKEN_REVOKED");
  });

  it.each([
    ["garbage", "Bearer garbage"],
    ["three dots of nothing", "Bearer .."],
    ["an empty bearer", "Bearer "],
    ["the Basic scheme", `Basic ${Buffer.from("user:pass").toString("base64")}`],
    ["no scheme", "eyJ.eyJ.sig"],
    ["a 20 KB header", `Bearer ${"a".repeat(20 * 1024)}.b.c`],
    ["a correctly signed payload that is not a JSON object", signedRaw(b64({ alg: "HS256", typ: "at+jwt" }), b64([1, 2]))],
    ["a correctly signed payload that is not JSON", signedRaw(b64({ alg: "HS256", typ: "at+jwt" }), Buffer.from("not json").toString("base64url"))],
  ])("refuses %s with INVALID_TOKEN", async (_, header) => {
    expect(await rejected(header)).toBe("INVALID_TOKEN");
  });

  it("answers a header too large for the server with 431, not a crash", async () => {
    const response = await fetch(api.url, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${"a".repeat(100 * 1024)}` },
      body: JSON.stringify({ query: "{ __typename }" }),
    });
    expect(response.status).toBe(431);
    const healthy = await send(api.url, MeDocument, {}, { token: valid.accessToken });
    expect(healthy.status).toBe(200);
  });

  it("never answers 500 for any of a batch of random headers", async () => {
    const statuses = new Set<number>();
    for (let i = 0; i < 30; i++) {
      const junk = Buffer.from(Array.from({ length: 1 + i * 7 }, () => 33 + Math.floor(Math.random() * 90))).toString("latin1");
      const response = await fetch(api.url, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${junk}` },
        body: JSON.stringify({ query: "{ __typename }" }),
      });
      statuses.add(response.status);
    }
    expect([...statuses]).toEqual([401]);
  });
});
