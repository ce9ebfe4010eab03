import { LinkIdentityUrlDocument, LoginDocument, MeDocument, ReauthenticateDocument, RefreshWithCookieDocument, RequestPasswordResetDocument, ResetPasswordDocument, UsersDocument } from "../../schema/generated/graphql";
import type { TestApi } from "../support/api";
import { login, PASSWORD, register, send, uniqueEmail } from "../support/client";
import { Mailbox, tokenIn } from "../support/mailbox";
import { CookieJar, signInAtProvider, startApiWithProvider, visit, type TestProvider } from "../support/oidc";
import { testClock } from "../support/totp";

// What a provider sign-in keeps of the account rules (issue 27), through the public interface: the
// API with a real oidc-provider as `corp`, and a real SMTP mailbox for the reset.
const APP = "http://localhost:3000";
const ADMIN_EMAIL = uniqueEmail("boss");
/** Seconds: a sign-in counts as recent this long (REAUTH_MAX_AGE_SECONDS), less than one step of the clock. */
const REAUTH_MAX_AGE = 2;
/**
 * The API's clock moves only when a test moves it: a sign-in grows old at once, and a fresh
 * re-authentication stays fresh however slow a loaded machine is.
 */
const clock = testClock();
const person = (login: string, email = uniqueEmail(login)) => ({ login, email });
const boss = person("boss", ADMIN_EMAIL);
const newcomer = person("newcomer");
let api: TestApi, provider: TestProvider, origin: string, mailbox: Mailbox;

beforeAll(async () => {
  mailbox = await Mailbox.start();
  ({ api, provider, origin } = await startApiWithProvider({
    accounts: Object.fromEntries([boss, newcomer].map(({ login, email }) => [login, { email, email_verified: true }])),
    env: {
      APP_URL: APP,
      ADMIN_EMAIL,
      ADMIN_PASSWORD: PASSWORD,
      MFA_REQUIRED_FOR_ROLES: "ADMIN",
      REAUTH_MAX_AGE_SECONDS: String(REAUTH_MAX_AGE),
      MAIL_URL: mailbox.url,
    },
    clock,
  }));
}, 60_000);
afterAll(async () => {
  await api?.stop();
  await Promise.all([provider?.stop(), mailbox?.stop()]);
});

/** A provider sign-in in a played browser, then refresh with its cookie: the session's access token. */
async function signIn(login: string): Promise<string> {
  const jar = new CookieJar();
  const start = await visit(jar, `${origin}/auth/oidc/corp/start?redirect_to=${encodeURIComponent(`${APP}/`)}`);
  const done = await visit(jar, await signInAtProvider(jar, start.headers.get("location")!, login, `${origin}/auth/oidc/corp/callback`));
  expect(done.headers.get("location")).toBe(`${APP}/`);
  const refresh = /refresh_token=([^;]+)/.exec(done.headers.getSetCookie().join("\n"))![1];
  return (await send(api.url, RefreshWithCookieDocument, {}, { headers: { cookie: `refresh_token=${refresh}` } })).data!.refresh.accessToken;
}

async function markVerified(userId: string, email: string): Promise<void> {
  const now = clock.now();
  await api.store.putMailToken(userId, "email_verification", { hash: "test-hash", expiresAt: now + 60_000, email });
  expect((await api.store.verifyEmail({ userId, hash: "test-hash", now }))?.emailVerified).toBe(true);
}

it("asks a holder of a role in MFA_REQUIRED_FOR_ROLES who signs in by provider to enrol a second factor: MFA_ENROLLMENT_REQUIRED", async () => {
  const admin = await login(api.url, ADMIN_EMAIL);
  await markVerified(admin.user.id, ADMIN_EMAIL);
  // The provider verified the same address: the sign-in links to the admin's account.
  const token = await signIn(boss.login);
  expect((await send(api.url, MeDocument, {}, { token })).data!.me).toMatchObject({ id: admin.user.id, roles: expect.arrayContaining(["ADMIN"]) });
  const refused = await send(api.url, UsersDocument, {}, { token });
  expect(refused.status).toBe(403);
  expect(refused.error).toMatchObject({ code: "FORBIDDEN", reason: "MFA_ENROLLMENT_REQUIRED" });
});

it("answers linkIdentityUrl with REAUTHENTICATION_REQUIRED from a session that signed in longer ago than REAUTH_MAX_AGE_SECONDS, and gives it after reauthenticate", async () => {
  const user = await register(api.url);
  await markVerified(user.user.id, user.user.email);
  clock.advanceSteps(1);
  const link = () => send(api.url, LinkIdentityUrlDocument, { provider: "corp", redirectTo: `${APP}/linked` }, { token: user.accessToken });
  const refused = await link();
  expect(refused.status).toBe(403);
  expect(refused.error).toMatchObject({ code: "FORBIDDEN", reason: "REAUTHENTICATION_REQUIRED" });
  expect((await send(api.url, ReauthenticateDocument, { input: { password: PASSWORD } }, { token: user.accessToken })).data).toEqual({ reauthenticate: true });
  expect((await link()).data?.linkIdentityUrl).toMatch(new RegExp(`^${origin}/auth/oidc/corp/start\\?link=`));
});

it("gives an account a provider created a password through a reset, which then signs in", async () => {
  await signIn(newcomer.login);
  const NEW_PASSWORD = "a new password for the newcomer";
  expect((await send(api.url, LoginDocument, { input: { email: newcomer.email, password: NEW_PASSWORD } })).error).toMatchObject({ code: "UNAUTHENTICATED", reason: "INVALID_CREDENTIALS" });
  expect((await send(api.url, RequestPasswordResetDocument, { email: newcomer.email })).data).toEqual({ requestPasswordReset: true });
  const token = tokenIn(await mailbox.nth(newcomer.email, /Reset your password/));
  expect((await send(api.url, ResetPasswordDocument, { token, newPassword: NEW_PASSWORD })).data).toEqual({ resetPassword: true });
  const signedIn = await login(api.url, newcomer.email, NEW_PASSWORD);
  expect(signedIn.user.email).toBe(newcomer.email);
  // One account: the provider still signs in to the one the password now opens.
  expect((await send(api.url, MeDocument, {}, { token: await signIn(newcomer.login) })).data!.me.id).toBe(signedIn.user.id);
});
