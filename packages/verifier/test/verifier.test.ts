import { createPrivateKey, createPublicKey } from "node:crypto";
import jwt from "jsonwebtoken";
import { Cluster, Redis } from "ioredis";
import { ConfirmTotpDocument, EnrollTotpDocument, LoginDocument, MeDocument } from "../../../schema/generated/graphql";
import { startApi, TEST_AUDIENCE, TEST_ISSUER, type TestApi } from "../../../test/support/api";
import { PASSWORD, register, send } from "../../../test/support/client";
import { stepAt, totpCode } from "../../../test/support/totp";
import { asymmetricEnv, claimsOf, newKey } from "../../../test/support/keys";
import { commandsSentBy, startRedis, type TestRedis } from "../../../test/support/redis";
import { createVerifier, type VerifierOptions } from "../src";
import { keys as keyLayout } from "../src/internal";

const signingKey = newKey("ES256");
const publicJwks = { keys: [{ ...createPublicKey(createPrivateKey({ key: signingKey, format: "jwk" })).export({ format: "jwk" }), kid: signingKey.kid, alg: "ES256" }] };

let redis: TestRedis;
let api: TestApi;
let reader: Redis;

beforeAll(async () => {
  redis = await startRedis();
  api = await startApi(redis.url, asymmetricEnv([signingKey]));
  reader = new Redis(redis.url, { connectionName: "verifier-under-test" });
});
afterAll(async () => {
  reader.disconnect();
  await api.stop();
  await redis.destroy();
});

const verifierFor = (options: Partial<VerifierOptions> = {}) =>
  createVerifier({ issuer: TEST_ISSUER, audience: TEST_AUDIENCE, keys: { jwks: publicJwks }, redis: reader, ...options });

const sign = (claims: object, header: object = {}) =>
  jwt.sign(claims, createPrivateKey({ key: signingKey, format: "jwk" }), {
    algorithm: "ES256",
    header: { alg: "ES256", typ: "at+jwt", kid: signingKey.kid, ...header } as jwt.JwtHeader,
  });

describe("verifying an access token of the auth API", () => {
  it("answers ok with the identity, and the user and roles read in the revocation round trip", async () => {
    const payload = await register(api.url);
    const outcome = await verifierFor().verify(payload.accessToken);
    expect(outcome).toEqual({
      ok: true,
      identity: {
        userId: payload.user.id,
        sessionId: payload.sessionId,
        jti: claimsOf(payload.accessToken).jti,
        roles: ["USER"],
        emailVerified: false,
        expiresAt: (claimsOf(payload.accessToken).exp as number) * 1000,
        user: expect.objectContaining({ id: payload.user.id, email: payload.user.email, roles: ["USER"], disabled: false }),
        aal: "aal1",
        amr: ["pwd"],
      },
    });
  });

  it("exposes email_verified, read live from the user record, so a verification counts on the next request", async () => {
    const payload = await register(api.url);
    expect(claimsOf(payload.accessToken).email_verified).toBe(false);
    const key = keyLayout.user(payload.user.id);
    const record = JSON.parse((await redis.client.get(key))!);
    await redis.client.set(key, JSON.stringify({ ...record, emailVerified: true }));
    const outcome = await verifierFor().verify(payload.accessToken);
    expect(outcome.ok && outcome.identity.emailVerified).toBe(true);
  });

  it("takes roles from the user record, so a role changed in the store counts on the next request", async () => {
    const payload = await register(api.url);
    const key = keyLayout.user(payload.user.id);
    const record = JSON.parse((await redis.client.get(key))!);
    await redis.client.set(key, JSON.stringify({ ...record, roles: ["USER", "ADMIN"] }));
    const outcome = await verifierFor().verify(payload.accessToken);
    expect(outcome.ok && outcome.identity.roles).toEqual(["USER", "ADMIN"]);
  });

  it("refuses a token whose session was ended with TOKEN_REVOKED, 401 and the API's WWW-Authenticate", async () => {
    const payload = await register(api.url);
    await fetch(api.url, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${payload.accessToken}` },
      body: JSON.stringify({ query: "mutation { logout }" }),
    });
    expect(await verifierFor().verify(payload.accessToken)).toEqual({
      ok: false,
      code: "UNAUTHENTICATED",
      reason: "TOKEN_REVOKED",
      message: "The token has been revoked",
      status: 401,
      headers: { "www-authenticate": 'Bearer error="invalid_token"' },
    });
  });

  it("gives every tampered or foreign token the same code, reason and message as the auth API", async () => {
    const payload = await register(api.url);
    const claims = claimsOf(payload.accessToken);
    const now = Math.floor(Date.now() / 1000);
    const stranger = newKey("ES256");
    const rsa = newKey("RS256");
    const pem = createPublicKey(createPrivateKey({ key: signingKey, format: "jwk" })).export({ format: "pem", type: "spki" });
    const [h, p, s] = payload.accessToken.split(".");
    const b64 = (value: object) => Buffer.from(JSON.stringify(value)).toString("base64url");
    const cases: Record<string, string> = {
      genuine: payload.accessToken,
      "tampered payload": `${h}.${b64({ ...claims, roles: ["USER", "ADMIN"] })}.${s}`,
      "alg none": `${b64({ alg: "none", typ: "at+jwt", kid: signingKey.kid })}.${p}.`,
      expired: sign({ ...claims, iat: now - 910, exp: now - 10 }),
      "another audience": sign({ ...claims, aud: "someone-else" }),
      "another issuer": sign({ ...claims, iss: "someone-else" }),
      "refresh token": payload.refreshToken!,
      "typ JWT": sign(claims, { typ: "JWT" }),
      "unknown kid": jwt.sign(claims, createPrivateKey({ key: stranger, format: "jwk" }), { algorithm: "ES256", header: { alg: "ES256", typ: "at+jwt", kid: stranger.kid } }),
      "no kid": sign(claims, { kid: undefined }),
      "HS256 with the public key": jwt.sign(claims, Buffer.from(pem), { algorithm: "HS256", header: { alg: "HS256", typ: "at+jwt", kid: signingKey.kid } } as jwt.SignOptions),
      "RS256 key under the ES256 kid": jwt.sign(claims, createPrivateKey({ key: rsa, format: "jwk" }), { algorithm: "RS256", header: { alg: "RS256", typ: "at+jwt", kid: signingKey.kid } }),
      "unknown role": sign({ ...claims, roles: ["ROOT"] }),
      "no aal": sign({ ...claims, aal: undefined }),
      "unknown aal": sign({ ...claims, aal: "aal3" }),
      "no amr": sign({ ...claims, amr: undefined }),
      "empty amr": sign({ ...claims, amr: [] }),
      "amr not a list of names": sign({ ...claims, amr: "pwd" }),
      "no sid": sign({ ...claims, sid: undefined }),
      "crit header": sign(claims, { crit: ["exp"] }),
      "lifetime over ACCESS_TOKEN_TTL": sign({ ...claims, iat: now - 10, exp: now - 10 + api.config.accessTokenTtl + 61 }),
      "lifetime within the leeway": sign({ ...claims, iat: now - 10, exp: now - 10 + api.config.accessTokenTtl + 59 }),
    };
    const verifier = verifierFor({ accessTokenTtl: api.config.accessTokenTtl });
    for (const [name, token] of Object.entries(cases)) {
      const fromApi = await send(api.url, MeDocument, {}, { token });
      const fromVerifier = await verifier.verify(token);
      const apiSays = fromApi.status === 200 ? "ok" : `${fromApi.status} ${fromApi.error?.code} ${fromApi.error?.reason} ${fromApi.error?.message}`;
      const verifierSays = fromVerifier.ok ? "ok" : `${fromVerifier.status} ${fromVerifier.code} ${fromVerifier.reason} ${fromVerifier.message}`;
      expect(`${name}: ${verifierSays}`).toBe(`${name}: ${apiSays}`);
    }
  });

  it("reads the Authorization header as the API does: none is anonymous, anything but Bearer <jwt> is invalid", async () => {
    const verifier = verifierFor();
    expect(await verifier.authenticate(undefined)).toEqual({ ok: true, identity: null });
    expect(await verifier.authenticate("Basic abc")).toMatchObject({ reason: "INVALID_TOKEN", message: 'The Authorization header must be "Bearer <access token>"' });
    expect(await verifier.authenticate("Bearer not-a-jwt")).toMatchObject({ reason: "INVALID_TOKEN", message: "The bearer token is not a JWT" });
  });
});

/** The commands the verifier's own connection sends while `work` runs, seen with MONITOR. */
const commandsSentDuring = (work: () => Promise<unknown>) => commandsSentBy(redis, "verifier-under-test", work);

describe("the revocation check", () => {
  it("is exactly one MGET per token, of the four keys the API reads, and none for a bad signature", async () => {
    const payload = await register(api.url);
    const verifier = verifierFor();
    const commands = await commandsSentDuring(async () => {
      for (let i = 0; i < 5; i++) expect((await verifier.verify(payload.accessToken)).ok).toBe(true);
      expect((await verifier.verify(`${payload.accessToken}x`)).ok).toBe(false);
    });
    expect(commands).toEqual(Array(5).fill("mget"));
  });

  it("fails closed within its bound while Redis does not answer, and recovers", async () => {
    const payload = await register(api.url);
    const verifier = verifierFor({ storeTimeoutMs: 300 });
    redis.pause();
    try {
      const started = Date.now();
      expect(await verifier.verify(payload.accessToken)).toMatchObject({
        ok: false,
        code: "SERVICE_UNAVAILABLE",
        reason: "STORE_UNAVAILABLE",
        status: 503,
        headers: { "retry-after": "1" },
      });
      expect(Date.now() - started).toBeLessThan(5_000);
    } finally {
      redis.resume();
    }
    expect((await verifier.verify(payload.accessToken)).ok).toBe(true);
  });

  it("fails open when configured: accepted on the signature, with the token's roles and no user, and reported", async () => {
    const payload = await register(api.url);
    const accepted: string[] = [];
    const verifier = verifierFor({ storeTimeoutMs: 300, failureMode: "open", onFailOpen: (identity) => accepted.push(identity.userId) });
    redis.pause();
    try {
      const outcome = await verifier.verify(payload.accessToken);
      expect(outcome).toMatchObject({ ok: true, identity: { userId: payload.user.id, roles: ["USER"], user: null } });
    } finally {
      redis.resume();
    }
    expect(accepted).toEqual([payload.user.id]);
  });

  it("works with a Redis user that may only MGET the per-user keys, which cannot write", async () => {
    // The ACL the README gives: MGET only, read-only, on the four kinds of key it reads (not the password hash).
    const acl = "on >verifier-password resetkeys %R~auth:{u:*}:user %R~auth:{u:*}:session:* %R~auth:{u:*}:cutoff %R~auth:{u:*}:revoked:* resetchannels -@all +mget";
    await redis.client.call("ACL", "SETUSER", "verifier", ...acl.split(" "));
    const limited = new Redis(redis.url, { username: "verifier", password: "verifier-password", enableReadyCheck: false, maxRetriesPerRequest: 1 });
    try {
      const payload = await register(api.url);
      expect((await verifierFor({ redis: limited }).verify(payload.accessToken)).ok).toBe(true);
      await expect(limited.set(keyLayout.cutoff(payload.user.id), "0")).rejects.toThrow(/NOPERM/);
      await expect(limited.get(keyLayout.password(payload.user.id))).rejects.toThrow(/NOPERM/);
    } finally {
      limited.disconnect();
    }
  });
});

describe("with a Redis Cluster client", () => {
  it("checks revocation with the same one MGET on the user's slot", async () => {
    const clusterRedis = await startRedis({ cluster: true });
    // Without an announced address, CLUSTER SLOTS names no host and a Cluster client finds no node.
    await clusterRedis.client.config("SET", "cluster-announce-ip", "127.0.0.1");
    const clusterApi = await startApi(clusterRedis.url, asymmetricEnv([signingKey]));
    const { hostname, port } = new URL(clusterRedis.url);
    const cluster = new Cluster([{ host: hostname, port: Number(port) }], { lazyConnect: false });
    try {
      const payload = await register(clusterApi.url);
      expect((await verifierFor({ redis: cluster }).verify(payload.accessToken)).ok).toBe(true);
      await fetch(clusterApi.url, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${payload.accessToken}` },
        body: JSON.stringify({ query: "mutation { logoutAll }" }),
      });
      expect(await verifierFor({ redis: cluster }).verify(payload.accessToken)).toMatchObject({ reason: "TOKEN_REVOKED" });
    } finally {
      cluster.disconnect();
      await clusterApi.stop();
      await clusterRedis.destroy();
    }
  });
});

describe("assurance: the aal and amr claims", () => {
  /** The API's own token with its claims changed and signed again with the API's key, as the API would sign an aal2 one. */
  const resigned = (token: string, changes: object) => sign({ ...claimsOf(token), ...changes });
  const MFA_REQUIRED = {
    ok: false,
    code: "FORBIDDEN",
    reason: "MFA_REQUIRED",
    message: "This session has not verified its second factor: call verifyMfa with a current code first",
    status: 403,
    headers: {},
  };
  const setMfa = async (userId: string, mfaEnabled: boolean) => {
    const key = keyLayout.user(userId);
    await redis.client.set(key, JSON.stringify({ ...JSON.parse((await redis.client.get(key))!), mfaEnabled }));
  };

  it("refuses an aal1 token of a user who has a second factor with 403 MFA_REQUIRED, on any service", async () => {
    const payload = await register(api.url);
    await setMfa(payload.user.id, true);
    expect(await verifierFor().verify(payload.accessToken)).toEqual(MFA_REQUIRED);
    const aal2 = resigned(payload.accessToken, { aal: "aal2", amr: ["pwd", "otp"] });
    const outcome = await verifierFor().verify(aal2);
    expect(outcome.ok && [outcome.identity.aal, outcome.identity.amr]).toEqual(["aal2", ["pwd", "otp"]]);
  });

  it("with requiredAal aal2, refuses aal1 tokens: MFA_ENROLLMENT_REQUIRED without a second factor, MFA_REQUIRED with one", async () => {
    const payload = await register(api.url);
    const strict = verifierFor({ requiredAal: "aal2" });
    expect(await strict.verify(payload.accessToken)).toMatchObject({ ok: false, code: "FORBIDDEN", reason: "MFA_ENROLLMENT_REQUIRED", status: 403 });
    await setMfa(payload.user.id, true);
    expect(await strict.verify(payload.accessToken)).toEqual(MFA_REQUIRED);
    const aal2 = resigned(payload.accessToken, { aal: "aal2", amr: ["pwd", "otp"] });
    expect((await strict.verify(aal2)).ok).toBe(true);
  });

  it("accepts aal1 tokens by default while the user has no second factor", async () => {
    const payload = await register(api.url);
    expect((await verifierFor().verify(payload.accessToken)).ok).toBe(true);
  });

  it("takes the auth API's own step-up: a user who turned TOTP on is refused at aal1 and accepted at aal2, with requiredAal too", async () => {
    const payload = await register(api.url);
    const secret = (await send(api.url, EnrollTotpDocument, { currentPassword: PASSWORD }, { token: payload.accessToken })).data!.enrollTotp.secret;
    const confirmed = await send(api.url, ConfirmTotpDocument, { code: totpCode(secret, stepAt(Date.now())) }, { token: payload.accessToken });
    const aal2 = confirmed.data!.confirmTotp.auth.accessToken;
    const strict = verifierFor({ requiredAal: "aal2" });
    const outcome = await strict.verify(aal2);
    expect(outcome.ok && [outcome.identity.aal, outcome.identity.amr, outcome.identity.user?.mfaEnabled]).toEqual(["aal2", ["pwd", "otp"], true]);
    const login = await send(api.url, LoginDocument, { input: { email: payload.user.email, password: PASSWORD } });
    expect(login.data!.login.mfaRequired).toBe(true);
    expect(await verifierFor().verify(login.data!.login.accessToken)).toEqual(MFA_REQUIRED);
  });
});
