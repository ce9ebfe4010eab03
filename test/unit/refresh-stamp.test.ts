import { generatePrivateJwk, KeySet, type KeyMaterial } from "../../src/auth/tokens/signing-keys";
import { Tokens } from "../../src/auth/tokens/tokens";

const SECRET = "a-secret-that-is-long-enough-for-hs256-0123456789";
const es256 = generatePrivateJwk("ES256");
const materials: [string, KeyMaterial][] = [
  ["HS256", { algorithm: "HS256", secret: SECRET, previousSecrets: [] }],
  // Access tokens are ECDSA (randomized signatures); refresh tokens are HMAC under the same kid.
  ["ES256", { algorithm: "ES256", keys: [es256], signingKid: es256.kid }],
];

describe.each(materials)("refresh tokens signed from a stamp under %s", (_name, material) => {
  const settings = { keys: new KeySet(material), issuer: "iss", audience: "aud", accessTokenTtl: 60, refreshTokenTtl: 3600 };

  it("are the same bytes for the same stamp, on any instance at any time", () => {
    const early = new Tokens(settings, { now: () => 1_700_000_000_000 });
    const later = new Tokens({ ...settings, keys: new KeySet(material) }, { now: () => 1_700_000_500_000 });
    const stamp = early.nextRefreshStamp();
    const first = early.signRefresh("user", "session", stamp);
    expect(later.signRefresh("user", "session", stamp)).toEqual(first);
    expect(later.verifyRefresh(first.token)).toEqual({ sub: "user", sid: "session", jti: stamp.jti, exp: stamp.expiresAt / 1000 });
  });

  it("take fresh jtis and whole-second times from the clock", () => {
    const tokens = new Tokens(settings, { now: () => 1_700_000_000_999 });
    const [a, b] = [tokens.nextRefreshStamp(), tokens.nextRefreshStamp()];
    expect(a.jti).not.toBe(b.jti);
    expect(a).toMatchObject({ issuedAt: 1_700_000_000_000, expiresAt: 1_700_003_600_000 });
  });
});
