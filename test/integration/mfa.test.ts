import { randomBytes } from "node:crypto";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import type { UserRecord } from "../../src/store/store";
import {
  ConfirmTotpDocument,
  DisableTotpDocument,
  EnrollTotpDocument,
  LogoutDocument,
  LogoutOthersDocument,
  MeDocument,
  RefreshDocument,
  RegenerateRecoveryCodesDocument,
  ResetUserMfaDocument,
  SessionsDocument,
  UsersDocument,
  VerifyMfaDocument,
} from "../../schema/generated/graphql";
import { startApi, type TestApi } from "../support/api";
import { login, PASSWORD, post, register, send, uniqueEmail } from "../support/client";
import { claimsOf } from "../support/keys";
import { describeOnce } from "../support/directory";
import { startRedis, type TestRedis } from "../support/redis";
import { base32Decode, testClock, totpCode } from "../support/totp";

type Clock = ReturnType<typeof testClock>;

/** Whatever a test needs to drive one user's second factor over HTTP. */
interface Enrolled {
  readonly email: string;
  readonly secret: string;
  readonly recoveryCodes: string[];
  /** The aal2 session that confirmed the factor. */
  readonly accessToken: string;
  readonly refreshToken: string;
}

async function enrolled(api: TestApi, clock: Clock): Promise<Enrolled> {
  const user = await register(api.url);
  const enrolment = await send(api.url, EnrollTotpDocument, { currentPassword: PASSWORD }, { token: user.accessToken });
  const secret = enrolment.data!.enrollTotp.secret;
  const confirmed = await send(api.url, ConfirmTotpDocument, { code: totpCode(secret, clock.step()) }, { token: user.accessToken });
  if (!confirmed.data) throw new Error(JSON.stringify(confirmed.errors));
  const { recoveryCodes, auth } = confirmed.data.confirmTotp;
  // The confirming code's step is spent; later verifications use later steps.
  clock.advanceSteps(1);
  return { email: user.user.email, secret, recoveryCodes, accessToken: auth.accessToken, refreshToken: auth.refreshToken! };
}

const verify = (api: TestApi, token: string, code: string) => send(api.url, VerifyMfaDocument, { code }, { token });

describe("TOTP: enrolment, sign-in with the factor, recovery codes, turning it off", () => {
  let redis: TestRedis;
  let api: TestApi;
  const clock = testClock();
  const notices: { kind: string; userId: string; remaining?: number }[] = [];
  const ADMIN_EMAIL = uniqueEmail("admin");

  beforeAll(async () => {
    redis = await startRedis();
    api = await startApi(
      redis.url,
      { ADMIN_EMAIL, ADMIN_PASSWORD: PASSWORD, MFA_MAX_FAILURES: "1000", REFRESH_REUSE_GRACE_SECONDS: "10" },
      {
        clock,
        mfaNotices: {
          recoveryCodeUsed: (user: UserRecord, remaining: number) => void notices.push({ kind: "recovery_code_used", userId: user.id, remaining }),
          totpDisabled: (user: UserRecord, by: string) => void notices.push({ kind: `disabled_by_${by}`, userId: user.id }),
        },
      },
    );
  });
  afterAll(async () => {
    await api.stop();
    await redis.destroy();
  });

  it("enrols with the password: a base32 secret, the otpauth URI and its QR code as SVG", async () => {
    const user = await register(api.url);
    const wrong = await send(api.url, EnrollTotpDocument, { currentPassword: "not the password" }, { token: user.accessToken });
    expect(wrong.error).toMatchObject({ code: "UNAUTHENTICATED", reason: "INVALID_CREDENTIALS" });
    const { data } = await send(api.url, EnrollTotpDocument, { currentPassword: PASSWORD }, { token: user.accessToken });
    const enrolment = data!.enrollTotp;
    expect(enrolment.secret).toMatch(/^[A-Z2-7]{32}$/);
    const uri = new URL(enrolment.otpauthUri);
    expect(`${uri.protocol}//${uri.host}${decodeURIComponent(uri.pathname)}`).toBe(`otpauth://totp/Revocable Auth:${user.user.email}`);
    expect(Object.fromEntries(uri.searchParams)).toMatchObject({ secret: enrolment.secret, issuer: "Revocable Auth", algorithm: "SHA1", digits: "6", period: "30" });
    expect(enrolment.qrSvg).toMatch(/^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"[\s\S]*<\/svg>\s*$/);
    const me = await send(api.url, MeDocument, {}, { token: user.accessToken });
    expect(me.data!.me.mfaEnabled).toBe(false);
  });

  it("turns TOTP on only with a right code, ends the other sessions, and raises this one to aal2 with recovery codes", async () => {
    const user = await register(api.url);
    const other = await login(api.url, user.user.email);
    const { data } = await send(api.url, EnrollTotpDocument, { currentPassword: PASSWORD }, { token: user.accessToken });
    const secret = data!.enrollTotp.secret;
    const wrong = await send(api.url, ConfirmTotpDocument, { code: totpCode(secret, clock.step() + 5) }, { token: user.accessToken });
    expect(wrong.error).toMatchObject({ code: "BAD_USER_INPUT", reason: "INVALID_MFA_CODE" });

    const confirmed = await send(api.url, ConfirmTotpDocument, { code: totpCode(secret, clock.step()) }, { token: user.accessToken });
    const { recoveryCodes, auth } = confirmed.data!.confirmTotp;
    expect(recoveryCodes).toHaveLength(10);
    expect(new Set(recoveryCodes).size).toBe(10);
    for (const code of recoveryCodes) expect(code).toMatch(/^[0-9A-HJKMNP-TV-Z]{4}(-[0-9A-HJKMNP-TV-Z]{4}){3}$/);
    expect(claimsOf(auth.accessToken)).toMatchObject({ aal: "aal2", amr: ["pwd", "otp"] });
    expect(auth.mfaRequired).toBe(false);
    expect(auth.user.mfaEnabled).toBe(true);
    expect((await send(api.url, MeDocument, {}, { token: other.accessToken })).error).toMatchObject({ reason: "TOKEN_REVOKED" });
    expect((await send(api.url, SessionsDocument, {}, { token: auth.accessToken })).data!.sessions).toHaveLength(1);
    clock.advanceSteps(1);
  });

  it("signs in with the factor: login answers mfaRequired and aal1 tokens good only for me, logout and verifyMfa", async () => {
    const user = await enrolled(api, clock);
    const first = await login(api.url, user.email);
    expect(first.mfaRequired).toBe(true);
    expect(claimsOf(first.accessToken)).toMatchObject({ aal: "aal1", amr: ["pwd"] });
    expect((await send(api.url, MeDocument, {}, { token: first.accessToken })).data!.me.email).toBe(user.email);
    for (const refused of [
      await send(api.url, SessionsDocument, {}, { token: first.accessToken }),
      await send(api.url, LogoutOthersDocument, {}, { token: first.accessToken }),
      await send(api.url, EnrollTotpDocument, { currentPassword: PASSWORD }, { token: first.accessToken }),
    ]) {
      expect(refused.status).toBe(403);
      expect(refused.error).toMatchObject({ code: "FORBIDDEN", reason: "MFA_REQUIRED" });
    }
    const verified = await verify(api, first.accessToken, totpCode(user.secret, clock.step()));
    const aal2 = verified.data!.verifyMfa;
    expect(aal2.sessionId).toBe(first.sessionId);
    expect(aal2.mfaRequired).toBe(false);
    expect(claimsOf(aal2.accessToken)).toMatchObject({ aal: "aal2", amr: ["pwd", "otp"] });
    expect((await send(api.url, SessionsDocument, {}, { token: aal2.accessToken })).data!.sessions.length).toBeGreaterThan(0);

    // Logout stays open to an aal1 token.
    const second = await login(api.url, user.email);
    expect((await send(api.url, LogoutDocument, {}, { token: second.accessToken })).data!.logout).toBe(true);
  });

  it("never refreshes the login's aal1 refresh token into aal2 after verifyMfa; the new family's refresh keeps aal2", async () => {
    const user = await enrolled(api, clock);
    const first = await login(api.url, user.email);
    const verified = (await verify(api, first.accessToken, totpCode(user.secret, clock.step()))).data!.verifyMfa;
    clock.advanceSteps(1);

    const refreshed = await send(api.url, RefreshDocument, { refreshToken: verified.refreshToken! });
    expect(claimsOf(refreshed.data!.refresh.accessToken)).toMatchObject({ aal: "aal2", amr: ["pwd", "otp"] });

    // Inside the grace window too: the aal1 token belongs to a family the step-up closed.
    const stale = await send(api.url, RefreshDocument, { refreshToken: first.refreshToken! });
    expect(stale.data).toBeNull();
    expect(stale.error).toMatchObject({ code: "UNAUTHENTICATED", reason: "REFRESH_TOKEN_REUSED" });
  });

  it("keeps an aal1 session at aal1 through refreshes, still refused until it verifies", async () => {
    const user = await enrolled(api, clock);
    const first = await login(api.url, user.email);
    const refreshed = (await send(api.url, RefreshDocument, { refreshToken: first.refreshToken! })).data!.refresh;
    expect(claimsOf(refreshed.accessToken)).toMatchObject({ aal: "aal1", amr: ["pwd"] });
    expect(refreshed.mfaRequired).toBe(true);
    expect((await send(api.url, SessionsDocument, {}, { token: refreshed.accessToken })).error).toMatchObject({ reason: "MFA_REQUIRED" });
  });

  it("accepts each step's code once per user, across sessions (RFC 6238 §5.2)", async () => {
    const user = await enrolled(api, clock);
    const code = totpCode(user.secret, clock.step());
    const a = await login(api.url, user.email);
    const b = await login(api.url, user.email);
    expect((await verify(api, a.accessToken, code)).data!.verifyMfa).toBeTruthy();
    const replay = await verify(api, b.accessToken, code);
    expect(replay.error).toMatchObject({ code: "BAD_USER_INPUT", reason: "INVALID_MFA_CODE" });
    clock.advanceSteps(1);
    expect((await verify(api, b.accessToken, totpCode(user.secret, clock.step()))).data!.verifyMfa).toBeTruthy();
  });

  it("accepts one step of drift either way and refuses two", async () => {
    const user = await enrolled(api, clock);
    clock.advanceSteps(5);
    const session = await login(api.url, user.email);
    const at = (offset: number) => verify(api, session.accessToken, totpCode(user.secret, clock.step() + offset));
    expect((await at(-2)).error).toMatchObject({ reason: "INVALID_MFA_CODE" });
    expect((await at(+2)).error).toMatchObject({ reason: "INVALID_MFA_CODE" });
    expect((await at(-1)).data!.verifyMfa).toBeTruthy();
    const later = await login(api.url, user.email);
    expect((await verify(api, later.accessToken, totpCode(user.secret, clock.step() + 1))).data!.verifyMfa).toBeTruthy();
    clock.advanceSteps(2);
  });

  it("takes an unused recovery code once, in any case and grouping, and tells the notice listener", async () => {
    const user = await enrolled(api, clock);
    const [code] = user.recoveryCodes;
    const typed = code!.replace(/-/g, "").toLowerCase();
    const first = await login(api.url, user.email);
    const verified = (await verify(api, first.accessToken, typed)).data!.verifyMfa;
    expect(claimsOf(verified.accessToken)).toMatchObject({ aal: "aal2", amr: ["pwd", "otp"] });
    const userId = verified.user.id;
    expect(notices).toContainEqual({ kind: "recovery_code_used", userId, remaining: 9 });

    const second = await login(api.url, user.email);
    expect((await verify(api, second.accessToken, code!)).error).toMatchObject({ reason: "INVALID_MFA_CODE" });
    expect((await verify(api, second.accessToken, user.recoveryCodes[1]!)).data!.verifyMfa).toBeTruthy();
  });

  it("replaces the recovery codes at aal2 with a current TOTP code; the old ones stop working", async () => {
    const user = await enrolled(api, clock);
    const refusedAtAal2WithoutCode = await send(api.url, RegenerateRecoveryCodesDocument, { code: user.recoveryCodes[0]! }, { token: user.accessToken });
    expect(refusedAtAal2WithoutCode.error).toMatchObject({ reason: "INVALID_MFA_CODE" });
    const regenerated = await send(api.url, RegenerateRecoveryCodesDocument, { code: totpCode(user.secret, clock.step()) }, { token: user.accessToken });
    const fresh = regenerated.data!.regenerateRecoveryCodes;
    expect(fresh).toHaveLength(10);
    expect(fresh).not.toContain(user.recoveryCodes[0]);
    const session = await login(api.url, user.email);
    expect((await verify(api, session.accessToken, user.recoveryCodes[0]!)).error).toMatchObject({ reason: "INVALID_MFA_CODE" });
    expect((await verify(api, session.accessToken, fresh[0]!)).data!.verifyMfa).toBeTruthy();
    clock.advanceSteps(1);
  });

  it("turns TOTP off at aal2 with a current code: other sessions end, login needs the password alone again", async () => {
    const user = await enrolled(api, clock);
    const other = await login(api.url, user.email);
    const wrong = await send(api.url, DisableTotpDocument, { code: "000000" === totpCode(user.secret, clock.step()) ? "111111" : "000000" }, { token: user.accessToken });
    expect(wrong.error).toMatchObject({ reason: "INVALID_MFA_CODE" });
    const disabled = await send(api.url, DisableTotpDocument, { code: totpCode(user.secret, clock.step()) }, { token: user.accessToken });
    expect(disabled.data!.disableTotp).toBe(true);
    expect((await send(api.url, MeDocument, {}, { token: other.accessToken })).error).toMatchObject({ reason: "TOKEN_REVOKED" });
    const me = (await send(api.url, MeDocument, {}, { token: user.accessToken })).data!.me;
    expect(me.mfaEnabled).toBe(false);
    expect(notices).toContainEqual({ kind: "disabled_by_user", userId: me.id });
    const again = await login(api.url, user.email);
    expect(again.mfaRequired).toBe(false);
    expect((await send(api.url, SessionsDocument, {}, { token: again.accessToken })).data!.sessions.length).toBeGreaterThan(0);
    clock.advanceSteps(1);
  });

  it("lets an admin reset a user's factor, ending every session of theirs; nobody else may", async () => {
    const user = await enrolled(api, clock);
    const me = (await send(api.url, MeDocument, {}, { token: user.accessToken })).data!.me;
    const stranger = await register(api.url);
    const refused = await send(api.url, ResetUserMfaDocument, { userId: me.id }, { token: stranger.accessToken });
    expect(refused.error).toMatchObject({ code: "FORBIDDEN", reason: "MISSING_ROLE" });

    const admin = await login(api.url, ADMIN_EMAIL);
    expect((await send(api.url, ResetUserMfaDocument, { userId: me.id }, { token: admin.accessToken })).data!.resetUserMfa).toBe(true);
    expect((await send(api.url, MeDocument, {}, { token: user.accessToken })).error).toMatchObject({ reason: "TOKEN_REVOKED" });
    expect(notices).toContainEqual({ kind: "disabled_by_admin", userId: me.id });
    const again = await login(api.url, user.email);
    expect(again.mfaRequired).toBe(false);
    expect(again.user.mfaEnabled).toBe(false);
    expect((await send(api.url, ResetUserMfaDocument, { userId: me.id }, { token: admin.accessToken })).data!.resetUserMfa).toBe(false);
  });

  it("locks the factor after 100 consecutive wrong codes; a recovery code still signs in and unlocks it", async () => {
    const user = await enrolled(api, clock);
    const session = await login(api.url, user.email);
    const right = totpCode(user.secret, clock.step());
    const wrong = right === "000000" ? "111111" : "000000";
    for (let i = 0; i < 100; i++) expect((await verify(api, session.accessToken, wrong)).error).toMatchObject({ reason: "INVALID_MFA_CODE" });
    const locked = await verify(api, session.accessToken, right);
    expect(locked.status).toBe(403);
    expect(locked.error).toMatchObject({ code: "FORBIDDEN", reason: "MFA_LOCKED" });
    expect((await verify(api, session.accessToken, user.recoveryCodes[0]!)).data!.verifyMfa).toBeTruthy();
    const next = await login(api.url, user.email);
    expect((await verify(api, next.accessToken, right)).data!.verifyMfa).toBeTruthy();
    clock.advanceSteps(1);
  });

  it("runs at most one second-factor mutation per request, aliases included", async () => {
    const user = await enrolled(api, clock);
    const query = "mutation { a: verifyMfa(code: \"000000\") { sessionId } b: verifyMfa(code: \"111111\") { sessionId } }";
    const refused = await post(api.url, { query }, { token: user.accessToken });
    expect(refused.status).toBe(400);
    expect(refused.error?.message).toMatch(/At most one of register, login, refresh and changePassword \(or one second-factor, passkey or mail mutation\)/);
  });

  it("keeps no secret and no recovery code anywhere in Redis: every key dumped, and the append-only file", async () => {
    const user = await enrolled(api, clock);
    const pending = await register(api.url);
    const pendingSecret = (await send(api.url, EnrollTotpDocument, { currentPassword: PASSWORD }, { token: pending.accessToken })).data!.enrollTotp.secret;
    const needles = [user.secret, pendingSecret].flatMap((secret) => {
      const raw = base32Decode(secret);
      return [Buffer.from(secret), raw, Buffer.from(raw.toString("hex")), Buffer.from(raw.toString("base64")), Buffer.from(raw.toString("base64url"))];
    });
    needles.push(...user.recoveryCodes.flatMap((code) => [Buffer.from(code), Buffer.from(code.replace(/-/g, ""))]));

    let cursor = "0";
    let scanned = 0;
    do {
      const [next, keys] = await redis.client.scan(cursor, "COUNT", 1000);
      cursor = next;
      for (const key of keys) {
        const dump = await redis.client.dumpBuffer(key);
        scanned++;
        for (const needle of needles) expect({ key, leaks: dump!.includes(needle) }).toEqual({ key, leaks: false });
      }
    } while (cursor !== "0");
    expect(scanned).toBeGreaterThan(5);
    const mfaKeys = await redis.client.keys("*totp*");
    expect(mfaKeys.length).toBeGreaterThanOrEqual(2);

    const [, dir] = (await redis.client.config("GET", "dir")) as [string, string];
    const files = (function walk(path: string): string[] {
      return statSync(path).isDirectory() ? readdirSync(path).flatMap((name) => walk(join(path, name))) : [path];
    })(dir);
    expect(files.length).toBeGreaterThan(0);
    for (const file of files) {
      const bytes = readFileSync(file);
      for (const needle of needles) expect({ file, leaks: bytes.includes(needle) }).toEqual({ file, leaks: false });
    }
  });
});

describe("MFA_REQUIRED_FOR_ROLES", () => {
  let redis: TestRedis;
  let api: TestApi;
  const clock = testClock();
  const ADMIN_EMAIL = uniqueEmail("admin");

  beforeAll(async () => {
    redis = await startRedis();
    api = await startApi(redis.url, { ADMIN_EMAIL, ADMIN_PASSWORD: PASSWORD, MFA_REQUIRED_FOR_ROLES: "ADMIN" }, { clock });
  });
  afterAll(async () => {
    await api.stop();
    await redis.destroy();
  });

  it("refuses a role's operations until its holder has a second factor at aal2, leaving me and enrolment open", async () => {
    const admin = await login(api.url, ADMIN_EMAIL);
    const refused = await send(api.url, UsersDocument, {}, { token: admin.accessToken });
    expect(refused.status).toBe(403);
    expect(refused.error).toMatchObject({ code: "FORBIDDEN", reason: "MFA_ENROLLMENT_REQUIRED" });
    expect((await send(api.url, MeDocument, {}, { token: admin.accessToken })).data!.me.email).toBe(ADMIN_EMAIL);
    // Operations without the role are not affected.
    expect((await send(api.url, SessionsDocument, {}, { token: admin.accessToken })).data!.sessions.length).toBeGreaterThan(0);

    const secret = (await send(api.url, EnrollTotpDocument, { currentPassword: PASSWORD }, { token: admin.accessToken })).data!.enrollTotp.secret;
    const confirmed = (await send(api.url, ConfirmTotpDocument, { code: totpCode(secret, clock.step()) }, { token: admin.accessToken })).data!.confirmTotp;
    expect((await send(api.url, UsersDocument, {}, { token: confirmed.auth.accessToken })).data!.users.totalCount).toBeGreaterThan(0);

    clock.advanceSteps(1);
    const next = await login(api.url, ADMIN_EMAIL);
    expect((await send(api.url, UsersDocument, {}, { token: next.accessToken })).error).toMatchObject({ reason: "MFA_REQUIRED" });
    const verified = (await verify(api, next.accessToken, totpCode(secret, clock.step()))).data!.verifyMfa;
    expect((await send(api.url, UsersDocument, {}, { token: verified.accessToken })).data!.users.totalCount).toBeGreaterThan(0);
  });

  it("does not touch users without the role", async () => {
    const user = await register(api.url);
    expect((await send(api.url, SessionsDocument, {}, { token: user.accessToken })).data!.sessions).toHaveLength(1);
    expect((await send(api.url, UsersDocument, {}, { token: user.accessToken })).error).toMatchObject({ reason: "MISSING_ROLE" });
  });
});

describeOnce("second-factor throttling, counted in Redis and shared by every instance", () => {
  let redis: TestRedis;
  let a: TestApi;
  let b: TestApi;
  const clock = testClock();

  beforeAll(async () => {
    redis = await startRedis();
    // Every instance must share the key that seals the secrets.
    const env = { MFA_MAX_FAILURES: "3", MFA_FAILURE_WINDOW_SECONDS: "900", MFA_ENCRYPTION_KEY: randomBytes(32).toString("base64") };
    a = await startApi(redis.url, env, { clock });
    b = await startApi(redis.url, env, { clock });
  });
  afterAll(async () => {
    await a.stop();
    await b.stop();
    await redis.destroy();
  });

  it("answers 429 MFA_THROTTLED with Retry-After past MFA_MAX_FAILURES wrong codes on either instance, even to a right code", async () => {
    const user = await enrolled(a, clock);
    const session = await login(a.url, user.email);
    const right = totpCode(user.secret, clock.step());
    const wrong = right === "000000" ? "111111" : "000000";
    expect((await verify(a, session.accessToken, wrong)).error).toMatchObject({ reason: "INVALID_MFA_CODE" });
    expect((await verify(b, session.accessToken, wrong)).error).toMatchObject({ reason: "INVALID_MFA_CODE" });
    expect((await verify(a, session.accessToken, wrong)).error).toMatchObject({ reason: "INVALID_MFA_CODE" });
    for (const api of [b, a]) {
      const throttled = await verify(api, session.accessToken, right);
      expect(throttled.status).toBe(429);
      expect(throttled.error).toMatchObject({ code: "TOO_MANY_REQUESTS", reason: "MFA_THROTTLED" });
      expect(Number(throttled.headers.get("retry-after"))).toBeGreaterThan(0);
    }
    // Per user, not only per session: another session of the same user is refused too.
    const other = await login(b.url, user.email);
    expect((await verify(b, other.accessToken, right)).error).toMatchObject({ reason: "MFA_THROTTLED" });
  });

  it("does not count right codes, nor let them wipe out the wrong ones", async () => {
    const user = await enrolled(a, clock);
    for (let i = 0; i < 5; i++) {
      const session = await login(i % 2 ? a.url : b.url, user.email);
      expect((await verify(i % 2 ? a : b, session.accessToken, totpCode(user.secret, clock.step()))).data!.verifyMfa).toBeTruthy();
      clock.advanceSteps(1);
    }
    const attacker = await login(a.url, user.email);
    const victim = await login(b.url, user.email);
    const wrong = (api: TestApi, token: string) => verify(api, token, totpCode(user.secret, clock.step()) === "000000" ? "111111" : "000000");
    expect((await wrong(a, attacker.accessToken)).error).toMatchObject({ reason: "INVALID_MFA_CODE" });
    expect((await wrong(a, attacker.accessToken)).error).toMatchObject({ reason: "INVALID_MFA_CODE" });
    expect((await verify(b, victim.accessToken, totpCode(user.secret, clock.step()))).data!.verifyMfa).toBeTruthy();
    expect((await wrong(a, attacker.accessToken)).error).toMatchObject({ reason: "INVALID_MFA_CODE" });
    expect((await wrong(a, attacker.accessToken)).error).toMatchObject({ reason: "MFA_THROTTLED" });
  });
});

describeOnce("TOTP on the embedded store", () => {
  let api: TestApi;
  const clock = testClock();
  beforeAll(async () => {
    api = await startApi(null, {}, { clock });
  });
  afterAll(() => api.stop());

  it("enrols, signs in with the factor once per step, and refuses the aal1 refresh token after the step-up", async () => {
    const user = await enrolled(api, clock);
    const session = await login(api.url, user.email);
    expect(session.mfaRequired).toBe(true);
    expect((await send(api.url, SessionsDocument, {}, { token: session.accessToken })).error).toMatchObject({ reason: "MFA_REQUIRED" });
    const code = totpCode(user.secret, clock.step());
    const verified = (await verify(api, session.accessToken, code)).data!.verifyMfa;
    expect(claimsOf(verified.accessToken)).toMatchObject({ aal: "aal2", amr: ["pwd", "otp"] });
    const other = await login(api.url, user.email);
    expect((await verify(api, other.accessToken, code)).error).toMatchObject({ reason: "INVALID_MFA_CODE" });
    expect((await send(api.url, RefreshDocument, { refreshToken: session.refreshToken! })).error).toMatchObject({ reason: "REFRESH_TOKEN_REUSED" });
  });
});
