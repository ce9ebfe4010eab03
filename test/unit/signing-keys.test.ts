import { createPublicKey, type JsonWebKey } from "node:crypto";
import jwt from "jsonwebtoken";
import { generatePrivateJwk, KeySet, parseKeySet } from "../../src/auth/tokens/signing-keys";

const PRIVATE_FIELDS = ["d", "p", "q", "dp", "dq", "qi", "k", "oth"];
const SECRET = "a-secret-that-is-long-enough-for-hs256-0123456789";

describe("the JWKS document", () => {
  it("holds the public half of every key of an ES256 set, with kid, alg and use, and nothing private", () => {
    const [a, b] = [generatePrivateJwk("ES256"), generatePrivateJwk("ES256")];
    const document = new KeySet({ algorithm: "ES256", keys: [a, b], signingKid: b.kid }).jwks();
    expect(document?.keys.map((key) => key.kid)).toEqual([a.kid, b.kid]);
    for (const key of document!.keys) {
      expect(key).toMatchObject({ kty: "EC", crv: "P-256", alg: "ES256", use: "sig" });
      for (const field of PRIVATE_FIELDS) expect(key).not.toHaveProperty(field);
    }
  });

  it("verifies what the set signs, for RS256 too", () => {
    const key = generatePrivateJwk("RS256");
    const set = new KeySet({ algorithm: "RS256", keys: [key], signingKid: key.kid });
    const [published] = set.jwks()!.keys;
    for (const field of PRIVATE_FIELDS) expect(published).not.toHaveProperty(field);
    const token = jwt.sign({ sub: "u" }, set.accessSigner.key, { algorithm: "RS256" });
    const publicKey = createPublicKey({ key: published as JsonWebKey, format: "jwk" });
    expect(jwt.verify(token, publicKey, { algorithms: ["RS256"] })).toMatchObject({ sub: "u" });
  });

  it("is absent under an HMAC algorithm, whose keys are secret", () => {
    expect(new KeySet({ algorithm: "HS256", secret: SECRET, previousSecrets: [] }).jwks()).toBeNull();
  });
});

describe("the key set", () => {
  it("finds keys by kid, and refuses unknown kids and kid-less tokens", () => {
    const [old, current] = [generatePrivateJwk("ES256"), generatePrivateJwk("ES256")];
    const set = new KeySet({ algorithm: "ES256", keys: [old, current], signingKid: current.kid });
    expect(set.accessSigner.kid).toBe(current.kid);
    expect(set.accessKey(old.kid)?.kid).toBe(old.kid);
    expect(set.accessKey("unknown")).toBeUndefined();
    expect(set.accessKey(undefined)).toBeUndefined();
    expect(set.refreshKey(undefined)).toBeUndefined();
  });

  it("signs refresh tokens deterministically with HMAC under an asymmetric algorithm, one key per kid", () => {
    const [a, b] = [generatePrivateJwk("ES256"), generatePrivateJwk("ES256")];
    const set = new KeySet({ algorithm: "ES256", keys: [a, b], signingKid: a.kid });
    expect(set.refreshSigner).toMatchObject({ kid: a.kid, algorithm: "HS256" });
    const sign = () => jwt.sign({ sub: "u", iat: 1 }, set.refreshSigner.key, { algorithm: "HS256" });
    expect(sign()).toBe(sign());
    // The same private key always derives the same refresh key, so every instance agrees.
    const again = new KeySet({ algorithm: "ES256", keys: [a, b], signingKid: a.kid });
    expect(jwt.verify(sign(), again.refreshKey(a.kid)!.key, { algorithms: ["HS256"] })).toMatchObject({ sub: "u" });
    expect(() => jwt.verify(sign(), again.refreshKey(b.kid)!.key, { algorithms: ["HS256"] })).toThrow();
  });

  it("under HMAC, JWT_SECRET signs and each previous secret still verifies under its own kid", () => {
    const previous = "an-older-secret-that-is-long-enough-0123456789";
    const set = new KeySet({ algorithm: "HS256", secret: SECRET, previousSecrets: [previous] });
    const oldSet = new KeySet({ algorithm: "HS256", secret: previous, previousSecrets: [] });
    expect(set.accessSigner.kid).not.toBe(oldSet.accessSigner.kid);
    expect(set.accessKey(oldSet.accessSigner.kid)).toBeDefined();
    expect(set.accessSigner.kid).not.toContain(SECRET.slice(0, 8));
    // Tokens from before kids existed: JWT_SECRET only.
    expect(set.accessKey(undefined)?.kid).toBe(set.accessSigner.kid);
  });
});

describe("parsing JWT_KEYS_FILE", () => {
  const parse = (document: unknown, algorithm: "ES256" | "RS256" = "ES256") => parseKeySet(JSON.stringify(document), algorithm, "JWT_KEYS_FILE");

  it("accepts a set of generated private keys", () => {
    const keys = [generatePrivateJwk("ES256"), generatePrivateJwk("ES256")];
    expect(parse({ keys })).toEqual({ keys, problems: [] });
  });

  it("names each problem: not JSON, not a set, public-only, another alg, another curve, duplicate or missing kids", () => {
    const key = generatePrivateJwk("ES256");
    const { d: _d, ...publicOnly } = key;
    expect(parseKeySet("{", "ES256", "JWT_KEYS_FILE").problems).toEqual(["JWT_KEYS_FILE is not valid JSON"]);
    expect(parse([key]).problems[0]).toMatch(/must be a JSON Web Key Set/);
    expect(parse({ keys: [publicOnly] }).problems[0]).toMatch(/not a private key/);
    expect(parse({ keys: [key] }, "RS256").problems[0]).toMatch(/alg "ES256"; JWT_ALGORITHM is RS256/);
    expect(parse({ keys: [{ ...generatePrivateJwk("RS256"), alg: "ES256" }] }).problems[0]).toMatch(/EC P-256/);
    expect(parse({ keys: [key, key] }).problems).toEqual([`JWT_KEYS_FILE: kid "${key.kid}" appears more than once`]);
    expect(parse({ keys: [{ ...key, kid: "" }] }).problems[0]).toMatch(/needs a "kid"/);
    expect(parse({ keys: [{ ...key, d: generatePrivateJwk("ES256").d }] }).problems[0]).toMatch(/does not match its public part/);
  });
});
