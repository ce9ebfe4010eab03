import { Tokens } from "../../src/auth/tokens";

const settings = {
  secret: "a-secret-that-is-long-enough-for-hs256-0123456789",
  algorithm: "HS256" as const,
  issuer: "iss",
  audience: "aud",
  accessTokenTtl: 60,
  refreshTokenTtl: 3600,
};

describe("refresh tokens signed from a stamp", () => {
  it("are the same bytes for the same stamp, on any instance at any time", () => {
    const early = new Tokens(settings, { now: () => 1_700_000_000_000 });
    const later = new Tokens(settings, { now: () => 1_700_000_500_000 });
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
