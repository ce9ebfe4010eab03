import { retryDelay, scopeOf } from "../../src/auth/oauth/backchannel-logout";
import { jose } from "../../src/auth/federation/openid";
import { BACKCHANNEL_LOGOUT_EVENT, LogoutTokens } from "../../src/auth/oauth/logout-token";
import { generatePrivateJwk } from "../../src/auth/tokens/signing-keys";
import { loadConfig } from "../../src/config";

describe("back-channel logout delivery", () => {
  it("waits twice as long after each failed attempt, with jitter between half and all of it, at most ten minutes", () => {
    expect(retryDelay(1000, 1, 0)).toBe(500);
    expect(retryDelay(1000, 1, 1)).toBe(1000);
    expect(retryDelay(1000, 4, 1)).toBe(8000);
    expect(retryDelay(1000, 4, 0.5)).toBe(6000);
    expect(retryDelay(1000, 60, 1)).toBe(600_000);
  });

  it("reaches the one session a logout ended, every other one, or all; a change of roles ends none", () => {
    const base = { userId: "u", at: 1 };
    expect(scopeOf({ ...base, kind: "logout", sessionId: "s" })).toEqual({ kind: "session", sessionId: "s" });
    expect(scopeOf({ ...base, kind: "password_change", keepSessionId: "k" })).toEqual({ kind: "others", keepSessionId: "k" });
    expect(scopeOf({ ...base, kind: "user_disabled" })).toEqual({ kind: "all" });
    expect(scopeOf({ ...base, kind: "roles_changed" })).toBeNull();
  });

  it("reads its settings from OAUTH_BACKCHANNEL_*, with bounds", () => {
    expect(loadConfig({}).oauthBackchannel).toEqual({ timeoutMs: 5000, retryMs: 2000, maxAttempts: 12, maxAgeSeconds: 86_400, sweepSeconds: 30 });
    expect(loadConfig({ OAUTH_BACKCHANNEL_TIMEOUT_MS: "800", OAUTH_BACKCHANNEL_MAX_ATTEMPTS: "3" }).oauthBackchannel).toMatchObject({ timeoutMs: 800, maxAttempts: 3 });
    expect(() => loadConfig({ OAUTH_BACKCHANNEL_MAX_ATTEMPTS: "0" })).toThrow(/OAUTH_BACKCHANNEL_MAX_ATTEMPTS/);
  });
});

describe("logout tokens", () => {
  it.each(["ES256", "RS256"] as const)("are %s JWTs of type logout+jwt for one client, with sub, sid, the event and a fresh jti, and no nonce", async (algorithm) => {
    const key = generatePrivateJwk(algorithm);
    const tokens = new LogoutTokens({ issuer: "https://auth.example.com", algorithm, key });
    const { d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, ...publicJwk } = key as Record<string, unknown>;
    const verifyKey = await jose.importJWK(publicJwk as Parameters<typeof jose.importJWK>[0], algorithm);
    const token = await tokens.sign("app-a", "user-1", "session-1", Date.now());
    const { payload, protectedHeader } = await jose.jwtVerify(token, verifyKey, { issuer: "https://auth.example.com", audience: "app-a", typ: "logout+jwt", algorithms: [algorithm] });
    expect(protectedHeader).toEqual({ alg: algorithm, kid: key.kid, typ: "logout+jwt" });
    expect(payload).toEqual({ iss: "https://auth.example.com", aud: "app-a", sub: "user-1", sid: "session-1", iat: expect.any(Number), exp: payload.iat! + 120, jti: expect.any(String), events: { [BACKCHANNEL_LOGOUT_EVENT]: {} } });
    expect(claimsJti(await tokens.sign("app-a", "user-1", "session-1", Date.now()))).not.toBe(payload.jti);
  });
});

const claimsJti = (token: string) => (JSON.parse(Buffer.from(token.split(".")[1]!, "base64url").toString()) as { jti: string }).jti;
