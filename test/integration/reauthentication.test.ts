import { keys } from "@revocable-auth/verifier/internal";
import {
  ConfirmTotpDocument,
  DisableTotpDocument,
  EnrollTotpDocument,
  PasskeyRegistrationOptionsDocument,
  PasskeysDocument,
  ReauthenticateDocument,
  RegenerateRecoveryCodesDocument,
  RegisterPasskeyDocument,
  RemovePasskeyDocument,
  type ReauthenticateInput,
} from "../../schema/generated/graphql";
import { startApi, type TestApi } from "../support/api";
import { login, PASSWORD, post, register, send, type GraphQLResponse } from "../support/client";
import { Mailbox } from "../support/mailbox";
import { startRedis, type TestRedis } from "../support/redis";
import { testClock, totpCode } from "../support/totp";
import { attest, type CreationOptions } from "../support/webauthn";

/**
 * Recent authentication: adding a credential needs a session that signed in, stepped up or
 * reauthenticated within REAUTH_MAX_AGE_SECONDS (300 s by default), so an access token taken from
 * a session hours old adds nothing; and every credential added or removed is mailed to the owner.
 */
const ORIGIN = "http://localhost:1";
const BROWSER = "TestBrowser/1.0 (reauthentication)";
const clock = testClock();
/** Past REAUTH_MAX_AGE_SECONDS (300 s), well inside the access token's 900 s. */
const longAgo = () => clock.advanceSteps(11);

let redis: TestRedis;
let mailbox: Mailbox;
let api: TestApi;

beforeAll(async () => {
  [redis, mailbox] = await Promise.all([startRedis(), Mailbox.start()]);
  api = await startApi(redis.url, { MAIL_URL: mailbox.url, WEBAUTHN_ORIGINS: ORIGIN, LOGIN_MAX_FAILURES: "3", MFA_MAX_FAILURES: "3" }, clock);
});
afterAll(async () => {
  await api?.stop();
  await mailbox?.stop();
  await redis?.destroy();
});

const as = (token: string) => ({ token, headers: { "user-agent": BROWSER } });
const reauthenticate = (token: string, input: ReauthenticateInput) => send(api.url, ReauthenticateDocument, { input }, as(token));
const registrationOptions = (token: string) => send(api.url, PasskeyRegistrationOptionsDocument, {}, as(token));
const registerPasskey = (token: string, response: unknown, name = "Work key") => send(api.url, RegisterPasskeyDocument, { response, name }, as(token));
const enrollTotp = (token: string, currentPassword?: string) => send(api.url, EnrollTotpDocument, { currentPassword }, as(token));
const regenerate = (token: string, code: string) => send(api.url, RegenerateRecoveryCodesDocument, { code }, as(token));

async function addPasskey(token: string, name = "Work key") {
  const options = await registrationOptions(token);
  if (!options.data) throw new Error(JSON.stringify(options.errors));
  return registerPasskey(token, attest(options.data.passkeyRegistrationOptions as CreationOptions, ORIGIN), name);
}

function expectReauthenticationRequired(result: GraphQLResponse<unknown>): void {
  expect(result.error).toMatchObject({ code: "FORBIDDEN", reason: "REAUTHENTICATION_REQUIRED" });
  expect(result.status).toBe(403);
}

/** A user with TOTP on, signed in at aal2 in the session that confirmed it. */
async function withTotp(device = "laptop") {
  const user = await register(api.url, { device });
  const secret = (await enrollTotp(user.accessToken)).data!.enrollTotp.secret;
  const confirmed = await send(api.url, ConfirmTotpDocument, { code: totpCode(secret, clock.step()) }, as(user.accessToken));
  if (!confirmed.data) throw new Error(JSON.stringify(confirmed.errors));
  clock.advanceSteps(1);
  const { auth, recoveryCodes } = confirmed.data.confirmTotp;
  return { email: user.user.email, secret, recoveryCodes, accessToken: auth.accessToken };
}

describe("a session that signed in just now", () => {
  it("adds a passkey and enrols TOTP without typing anything again", async () => {
    const user = await register(api.url, { device: "laptop" });
    const added = await addPasskey(user.accessToken);
    expect(added.data?.registerPasskey).toMatchObject({ name: "Work key" });
    expect((await enrollTotp(user.accessToken)).data?.enrollTotp.secret).toMatch(/^[A-Z2-7]{32}$/);
  });
});

describe("an access token of a session that authenticated longer ago than REAUTH_MAX_AGE_SECONDS (a stolen one)", () => {
  it("adds no passkey and enrols no TOTP: 403 REAUTHENTICATION_REQUIRED, and nothing is stored", async () => {
    const user = await register(api.url, { device: "laptop" });
    const fresh = await registrationOptions(user.accessToken);
    longAgo();
    expectReauthenticationRequired(await registrationOptions(user.accessToken));
    expectReauthenticationRequired(await registerPasskey(user.accessToken, attest(fresh.data!.passkeyRegistrationOptions as CreationOptions, ORIGIN)));
    expectReauthenticationRequired(await enrollTotp(user.accessToken));
    // A wrong password answers as it always did.
    expect((await enrollTotp(user.accessToken, "not the password")).error).toMatchObject({ code: "UNAUTHENTICATED", reason: "INVALID_CREDENTIALS" });
    expect((await send(api.url, PasskeysDocument, {}, as(user.accessToken))).data!.passkeys).toEqual([]);
    expect(mailbox.to(user.user.email).filter((mail) => /passkey/i.test(mail.subject))).toEqual([]);
  });

  it("adds them after reauthenticate with the password, until that is long ago too", async () => {
    const user = await register(api.url, { device: "laptop" });
    longAgo();
    expectReauthenticationRequired(await registrationOptions(user.accessToken));
    const reauthenticated = await reauthenticate(user.accessToken, { password: PASSWORD });
    expect(reauthenticated.data).toEqual({ reauthenticate: true });
    expect((await addPasskey(user.accessToken)).data?.registerPasskey).toMatchObject({ name: "Work key" });
    expect((await enrollTotp(user.accessToken)).data?.enrollTotp.secret).toBeTruthy();
    longAgo();
    expectReauthenticationRequired(await registrationOptions(user.accessToken));
  });

  it("keeps a refused registration's challenge: after reauthenticate the same response goes through", async () => {
    const user = await register(api.url);
    const options = await registrationOptions(user.accessToken);
    const response = attest(options.data!.passkeyRegistrationOptions as CreationOptions, ORIGIN);
    longAgo();
    expectReauthenticationRequired(await registerPasskey(user.accessToken, response));
    await reauthenticate(user.accessToken, { password: PASSWORD });
    expect((await registerPasskey(user.accessToken, response)).data?.registerPasskey).toMatchObject({ name: "Work key" });
  });

  it("enrols TOTP with the right password as before: the password given is the reauthentication", async () => {
    const user = await register(api.url);
    longAgo();
    expect((await enrollTotp(user.accessToken, PASSWORD)).data?.enrollTotp.secret).toBeTruthy();
    // The session counts as recently authenticated from then on.
    expect((await registrationOptions(user.accessToken)).data?.passkeyRegistrationOptions).toBeTruthy();
  });

  it("makes no new recovery codes, spending no code; reauthenticate with a TOTP code, then they come", async () => {
    const user = await withTotp();
    longAgo();
    const code = totpCode(user.secret, clock.step());
    expectReauthenticationRequired(await regenerate(user.accessToken, code));
    expectReauthenticationRequired(await registrationOptions(user.accessToken));
    // The refused call spent nothing: the same code reauthenticates.
    expect((await reauthenticate(user.accessToken, { code })).data).toEqual({ reauthenticate: true });
    clock.advanceSteps(1);
    const regenerated = await regenerate(user.accessToken, totpCode(user.secret, clock.step()));
    expect(regenerated.data?.regenerateRecoveryCodes).toHaveLength(10);
    expect((await registrationOptions(user.accessToken)).data?.passkeyRegistrationOptions).toBeTruthy();
    clock.advanceSteps(1);
  });

  it("reauthenticates with a recovery code, which is spent", async () => {
    const user = await withTotp();
    longAgo();
    const [recoveryCode] = user.recoveryCodes;
    expect((await reauthenticate(user.accessToken, { code: recoveryCode! })).data).toEqual({ reauthenticate: true });
    expect((await registrationOptions(user.accessToken)).data?.passkeyRegistrationOptions).toBeTruthy();
    expect((await reauthenticate(user.accessToken, { code: recoveryCode! })).error).toMatchObject({ code: "BAD_USER_INPUT", reason: "INVALID_MFA_CODE" });
    await mailbox.nth(user.email, /recovery code was used/i);
  });

  it("counts a session begun before sign-ins were stamped as long ago (fail closed)", async () => {
    const user = await register(api.url);
    const key = keys.session(user.user.id, user.sessionId);
    const { authenticatedAt: _stamp, ...legacy } = JSON.parse((await redis.client.get(key))!);
    await redis.client.set(key, JSON.stringify(legacy), "KEEPTTL");
    expectReauthenticationRequired(await registrationOptions(user.accessToken));
    await reauthenticate(user.accessToken, { password: PASSWORD });
    expect((await registrationOptions(user.accessToken)).data?.passkeyRegistrationOptions).toBeTruthy();
  });
});

describe("REAUTH_MAX_AGE_SECONDS", () => {
  it("sets how long a sign-in counts as recent", async () => {
    const short = await startApi(redis.url, { REAUTH_MAX_AGE_SECONDS: "60", WEBAUTHN_ORIGINS: ORIGIN }, clock);
    try {
      const user = await register(short.url);
      const options = () => send(short.url, PasskeyRegistrationOptionsDocument, {}, as(user.accessToken));
      clock.advanceSteps(1);
      expect((await options()).data?.passkeyRegistrationOptions).toBeTruthy();
      clock.advanceSteps(2);
      expectReauthenticationRequired(await options());
    } finally {
      await short.stop();
    }
  });
});

describe("reauthenticate", () => {
  it("refuses a wrong password like changePassword does, and throttles it alike", async () => {
    const user = await register(api.url);
    longAgo();
    for (let i = 0; i < 3; i++) {
      expect((await reauthenticate(user.accessToken, { password: "not the password" })).error).toMatchObject({ code: "UNAUTHENTICATED", reason: "INVALID_CREDENTIALS" });
    }
    const throttled = await reauthenticate(user.accessToken, { password: PASSWORD });
    expect(throttled.error).toMatchObject({ code: "TOO_MANY_REQUESTS", reason: "LOGIN_THROTTLED" });
    expect(throttled.status).toBe(429);
    expect(Number(throttled.headers.get("retry-after"))).toBeGreaterThan(0);
    expectReauthenticationRequired(await registrationOptions(user.accessToken));
  });

  it("refuses a wrong code like verifyMfa does, and throttles it alike", async () => {
    const user = await withTotp();
    const wrong = totpCode(user.secret, clock.step() + 5);
    for (let i = 0; i < 3; i++) {
      expect((await reauthenticate(user.accessToken, { code: wrong })).error).toMatchObject({ code: "BAD_USER_INPUT", reason: "INVALID_MFA_CODE" });
    }
    const throttled = await reauthenticate(user.accessToken, { code: totpCode(user.secret, clock.step()) });
    expect(throttled.error).toMatchObject({ code: "TOO_MANY_REQUESTS", reason: "MFA_THROTTLED" });
    expect(throttled.status).toBe(429);
  });

  it("answers a code from a user without a second factor as verifyMfa does", async () => {
    const user = await register(api.url);
    expect((await reauthenticate(user.accessToken, { code: "123456" })).error).toMatchObject({ code: "BAD_USER_INPUT", reason: "MFA_NOT_ENABLED" });
  });

  it("takes exactly one of password and code, from a signed-in caller, once per request", async () => {
    const user = await register(api.url);
    for (const input of [{}, { password: PASSWORD, code: "123456" }, { password: null, code: null }]) {
      expect((await reauthenticate(user.accessToken, input)).error).toMatchObject({ code: "BAD_USER_INPUT", reason: "INVALID_INPUT" });
    }
    expect((await reauthenticate(user.accessToken, { password: "short" })).error).toMatchObject({ code: "BAD_USER_INPUT" });
    expect((await post(api.url, { query: 'mutation { reauthenticate(input: { password: "x" }) }' })).error).toMatchObject({ code: "UNAUTHENTICATED" });
    const twice = `mutation { a: reauthenticate(input: { password: "${PASSWORD}" }) b: reauthenticate(input: { password: "${PASSWORD}" }) }`;
    expect((await post(api.url, { query: twice }, as(user.accessToken))).error?.message).toMatch(/At most one of register, login, refresh and changePassword/);
  });

  it("is closed to an aal1 session of a user with a second factor: verifyMfa is its way", async () => {
    const user = await withTotp();
    const aal1 = await login(api.url, user.email);
    expect((await reauthenticate(aal1.accessToken, { password: PASSWORD })).error).toMatchObject({ code: "FORBIDDEN", reason: "MFA_REQUIRED" });
  });
});

describe("mail to the account's address for every credential added or removed", () => {
  it("names the passkey and the device, added and removed", async () => {
    const user = await register(api.url, { device: "Ann's laptop" });
    const added = await addPasskey(user.accessToken, "YubiKey 5C");
    const mail = await mailbox.nth(user.user.email, /A passkey was added/);
    expect(mail.text).toContain('"YubiKey 5C"');
    expect(mail.text).toContain(`the device "Ann's laptop"`);
    expect(mail.html).toContain("YubiKey 5C");
    expect((await send(api.url, RemovePasskeyDocument, { id: added.data!.registerPasskey.id }, as(user.accessToken))).data).toEqual({ removePasskey: true });
    const removed = await mailbox.nth(user.user.email, /A passkey was removed/);
    expect(removed.text).toContain('"YubiKey 5C"');
    expect(removed.text).toContain(`the device "Ann's laptop"`);
  });

  it("names the browser when the session has no device name", async () => {
    const user = await register(api.url);
    await addPasskey(user.accessToken, "Phone");
    expect((await mailbox.nth(user.user.email, /A passkey was added/)).text).toContain(`the device "${BROWSER}"`);
  });

  it("tells of TOTP turned on, new recovery codes and TOTP turned off, naming the authenticator app and the device", async () => {
    const user = await withTotp("desk");
    const enabled = await mailbox.nth(user.email, /Two-step sign-in was turned on/);
    expect(enabled.text).toMatch(/authenticator app[\s\S]*the device "desk"/);
    await regenerate(user.accessToken, totpCode(user.secret, clock.step()));
    clock.advanceSteps(1);
    expect((await mailbox.nth(user.email, /New recovery codes/)).text).toContain('the device "desk"');
    expect((await send(api.url, DisableTotpDocument, { code: totpCode(user.secret, clock.step()) }, as(user.accessToken))).data).toEqual({ disableTotp: true });
    clock.advanceSteps(1);
    const disabled = await mailbox.nth(user.email, /Two-step sign-in was turned off/);
    expect(disabled.text).toMatch(/authenticator app[\s\S]*from the device "desk"/);
  });
});
