import { createPrivateKey, createPublicKey, generateKeyPairSync, randomUUID, sign, type KeyObject } from "node:crypto";
import { Redis } from "ioredis";
import { MeDocument } from "../../../schema/generated/graphql";
import { startApi, TEST_AUDIENCE, TEST_ISSUER, type TestApi } from "../../../test/support/api";
import { send } from "../../../test/support/client";
import { boundSignIn as signInBound, dpopHeaders, dpopKey, proof, type DpopKey } from "../../../test/support/dpop";
import { asymmetricEnv, newKey } from "../../../test/support/keys";
import { commandsSentBy, startRedis, type TestRedis } from "../../../test/support/redis";
import { createVerifier, type Verifier } from "../src";
import { accessTokenHash } from "../src/internal";

const signingKey = newKey("ES256");
const publicJwks = { keys: [{ ...createPublicKey(createPrivateKey({ key: signingKey, format: "jwk" })).export({ format: "jwk" }), kid: signingKey.kid, alg: "ES256" }] };
/** The URL a service that uses the verifier is called at: what its clients' proofs name. */
const SERVICE_URL = "https://notes.example.com/graphql";

let redis: TestRedis;
let api: TestApi;
let reader: Redis;
let verifier: Verifier;

beforeAll(async () => {
  redis = await startRedis();
  api = await startApi(redis.url, asymmetricEnv([signingKey]));
  reader = new Redis(redis.url, { connectionName: "verifier-under-test" });
  verifier = createVerifier({ issuer: TEST_ISSUER, audience: TEST_AUDIENCE, keys: { jwks: publicJwks }, redis: reader });
});
afterAll(async () => {
  reader.disconnect();
  await api.stop();
  await redis.destroy();
});

const boundSignIn = (key: DpopKey) => signInBound(api.url, key);

const atService = async (key: DpopKey, token: string, claims: { jti?: string } = {}) => ({
  method: "POST",
  url: SERVICE_URL,
  proof: await proof(key, { htu: SERVICE_URL, accessToken: token, ...claims }),
});

describe("a DPoP-bound token at another service (the verifier)", () => {
  it("is accepted with a proof from its key for the service's URL, in one Redis command", async () => {
    const key = await dpopKey();
    const auth = await boundSignIn(key);
    await verifier.authenticate(`DPoP ${auth.accessToken}`, await atService(key, auth.accessToken)); // loads the script
    const request = await atService(key, auth.accessToken);
    let outcome;
    const commands = await commandsSentBy(redis, "verifier-under-test", async () => {
      outcome = await verifier.authenticate(`DPoP ${auth.accessToken}`, request);
    });
    expect(outcome).toMatchObject({ ok: true, identity: { userId: auth.user.id, jkt: key.jkt } });
    expect(commands).toEqual(["evalsha"]);
  });

  it("is refused as a copied token: without a proof, as Bearer, or with another key's proof", async () => {
    const key = await dpopKey();
    const auth = await boundSignIn(key);
    expect(await verifier.authenticate(`DPoP ${auth.accessToken}`)).toMatchObject({ ok: false, status: 401, reason: "DPOP_PROOF_REQUIRED", headers: { "www-authenticate": expect.stringMatching(/^DPoP /) } });
    expect(await verifier.authenticate(`Bearer ${auth.accessToken}`, await atService(key, auth.accessToken))).toMatchObject({ reason: "DPOP_PROOF_REQUIRED" });
    expect(await verifier.authenticate(`DPoP ${auth.accessToken}`, await atService(await dpopKey(), auth.accessToken))).toMatchObject({ reason: "INVALID_DPOP_PROOF", check: "jkt" });
  });

  it("refuses a proof for the auth API's URL, and a proof whose jti was used at the auth API", async () => {
    const key = await dpopKey();
    const auth = await boundSignIn(key);
    const usedThere = await proof(key, { htu: api.url, accessToken: auth.accessToken });
    expect((await send(api.url, MeDocument, {}, { headers: dpopHeaders(auth.accessToken, usedThere) })).data?.me.id).toBe(auth.user.id);
    expect(await verifier.authenticate(`DPoP ${auth.accessToken}`, { method: "POST", url: SERVICE_URL, proof: usedThere })).toMatchObject({ reason: "INVALID_DPOP_PROOF", check: "htu" });
    const jti = JSON.parse(Buffer.from(usedThere.split(".")[1]!, "base64url").toString()).jti as string;
    expect(await verifier.authenticate(`DPoP ${auth.accessToken}`, await atService(key, auth.accessToken, { jti }))).toMatchObject({ reason: "DPOP_PROOF_REPLAYED" });
  });

  it("refuses a proof replayed at the service", async () => {
    const key = await dpopKey();
    const auth = await boundSignIn(key);
    const request = await atService(key, auth.accessToken);
    expect(await verifier.authenticate(`DPoP ${auth.accessToken}`, request)).toMatchObject({ ok: true });
    expect(await verifier.authenticate(`DPoP ${auth.accessToken}`, request)).toMatchObject({ ok: false, reason: "DPOP_PROOF_REPLAYED" });
  });
});

describe("the proof's JWS, checked with node:crypto for the pinned algorithms", () => {
  /** A proof signed by hand, for headers and keys no JWS library would sign with. */
  function handMade(header: Record<string, unknown>, claims: Record<string, unknown>, sign: (input: Buffer) => Buffer): string {
    const part = (value: object) => Buffer.from(JSON.stringify(value)).toString("base64url");
    const input = `${part(header)}.${part(claims)}`;
    return `${input}.${sign(Buffer.from(input)).toString("base64url")}`;
  }
  const claimsFor = (token: string) => ({ htm: "POST", htu: SERVICE_URL, jti: randomUUID(), iat: Math.floor(Date.now() / 1000), ath: accessTokenHash(token) });
  const publicJwkOf = (privateKey: KeyObject) => createPublicKey(privateKey).export({ format: "jwk" });

  it("accepts ES256, RS256 and EdDSA proofs, each bound to its key", async () => {
    for (const alg of ["ES256", "RS256", "EdDSA"] as const) {
      const key = await dpopKey(alg);
      const auth = await boundSignIn(key);
      expect(await verifier.authenticate(`DPoP ${auth.accessToken}`, await atService(key, auth.accessToken))).toMatchObject({ ok: true, identity: { jkt: key.jkt } });
    }
  });

  it("refuses a crit header, a key of another type, curve or size than alg, a DER ECDSA signature and an expired proof", async () => {
    const auth = await boundSignIn(await dpopKey());
    const check = async (proofValue: string) => {
      const outcome = await verifier.authenticate(`DPoP ${auth.accessToken}`, { method: "POST", url: SERVICE_URL, proof: proofValue });
      return outcome.ok ? "accepted" : (outcome as { check?: string }).check;
    };
    const p256 = generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey;
    const p384 = generateKeyPairSync("ec", { namedCurve: "P-384" }).privateKey;
    const rsa1024 = generateKeyPairSync("rsa", { modulusLength: 1024 }).privateKey;
    const es256 = (privateKey: KeyObject, dsaEncoding: "ieee-p1363" | "der" = "ieee-p1363") => (input: Buffer) => sign("sha256", input, { key: privateKey, dsaEncoding });
    const header = (privateKey: KeyObject, alg = "ES256") => ({ alg, typ: "dpop+jwt", jwk: publicJwkOf(privateKey) });
    const claims = claimsFor(auth.accessToken);

    expect(await check(handMade({ ...header(p256), crit: ["exp"] }, { ...claims, exp: claims.iat + 60 }, es256(p256)))).toBe("malformed");
    expect(await check(handMade(header(p384), claims, es256(p384)))).toBe("jwk");
    expect(await check(handMade(header(rsa1024, "RS256"), claims, (input) => sign("sha256", input, rsa1024)))).toBe("jwk");
    expect(await check(handMade(header(p256, "EdDSA"), claims, es256(p256)))).toBe("jwk");
    expect(await check(handMade(header(p256), claims, es256(p256, "der")))).toBe("signature");
    expect(await check(handMade(header(p256), { ...claims, exp: claims.iat - 1 }, es256(p256)))).toBe("iat");
    // The same key and claims, signed as a JWS must be, pass every check up to the binding.
    expect(await check(handMade(header(p256), claims, es256(p256)))).toBe("jkt");
  });
});
