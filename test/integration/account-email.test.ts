import { Writable } from "node:stream";
import pino from "pino";
import {
  CancelEmailChangeDocument,
  ChangePasswordDocument,
  ConfirmEmailChangeDocument,
  LoginDocument,
  LogoutAllDocument,
  LogoutDocument,
  MeDocument,
  RefreshDocument,
  RegisterDocument,
  RequestEmailChangeDocument,
  RequestPasswordResetDocument,
  ResetPasswordDocument,
  RevokeUserSessionsDocument,
  SendVerificationEmailDocument,
  SetUserDisabledDocument,
  VerifyEmailDocument,
  type AuthPayloadFieldsFragment,
} from "../../schema/generated/graphql";
import { loadConfig } from "../../src/config";
import { startServer, type RunningServer } from "../../src/server";
import { testEnv } from "../support/api";
import { login, PASSWORD, post, register, send, uniqueEmail, type GraphQLResponse } from "../support/client";
import { closedWithin, openLive } from "../support/live";
import { linkIn, Mailbox, tokenIn } from "../support/mailbox";
import { describeOnce } from "../support/directory";
import { freePort, startRedis, type TestRedis } from "../support/redis";
import { eventually } from "../support/redis-node";

const APP_URL = "https://app.example.test";
const NEW_PASSWORD = "a brand new passphrase";
const RESET_TTL = 600;
const VERIFY_TTL = 3600;

/** One clock for every instance: tests move it past a link's lifetime. */
const clock = { offsetMs: 0, now: () => Date.now() + clock.offsetMs };

let redis: TestRedis;
let mailbox: Mailbox;
const servers: RunningServer[] = [];
const logLines: string[] = [];

async function start(env: Record<string, string>, redisUrl: string | null = redis.url): Promise<RunningServer> {
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      logLines.push(...chunk.toString().split("\n").filter(Boolean));
      done();
    },
  });
  const config = loadConfig(
    testEnv(redisUrl, {
      MAIL_URL: mailbox.url,
      APP_URL,
      PASSWORD_RESET_TTL_SECONDS: String(RESET_TTL),
      EMAIL_VERIFICATION_TTL_SECONDS: String(VERIFY_TTL),
      RECOVERY_MAX_PER_ADDRESS: "1000",
      RECOVERY_MAX_PER_ADDRESS_AND_IP: "1000",
      ...env,
    }),
  );
  const server = await startServer(config, { logger: pino({ level: "info" }, sink), clock });
  servers.push(server);
  return server;
}

let a: RunningServer;
let b: RunningServer;
let admin: AuthPayloadFieldsFragment;
const ADMIN_EMAIL = uniqueEmail("admin");

beforeAll(async () => {
  [redis, mailbox] = await Promise.all([startRedis(), Mailbox.start()]);
  // Two instances on one Redis: what one ends, the other refuses.
  a = await start({ ADMIN_EMAIL, ADMIN_PASSWORD: PASSWORD });
  b = await start({});
  admin = await login(a.url, ADMIN_EMAIL);
});
afterAll(async () => {
  for (const server of servers) await server.stop();
  await mailbox.stop();
  await redis.destroy();
});
afterEach(() => {
  clock.offsetMs = 0;
});

const me = (url: string, token: string) => send(url, MeDocument, {}, { token });
const refresh = (url: string, refreshToken: string) => send(url, RefreshDocument, { refreshToken });
const requestReset = (url: string, email: string, headers?: Record<string, string>) => send(url, RequestPasswordResetDocument, { email }, { headers });
const resetPassword = (url: string, token: string, newPassword = NEW_PASSWORD) => send(url, ResetPasswordDocument, { token, newPassword });
const claims = (accessToken: string) => JSON.parse(Buffer.from(accessToken.split(".")[1]!, "base64url").toString()) as Record<string, unknown>;
const median = (values: number[]) => [...values].sort((x, y) => x - y)[Math.floor(values.length / 2)]!;
const expectRefused = (result: GraphQLResponse<unknown>, reason: string) => expect(result.error).toMatchObject({ reason });

async function timed<T>(work: () => Promise<T>): Promise<[T, number]> {
  const started = process.hrtime.bigint();
  const result = await work();
  return [result, Number(process.hrtime.bigint() - started) / 1e6];
}

describe("password reset", () => {
  it("mails a link built from APP_URL; its token sets the password, ends every session on both instances and signs nobody in", async () => {
    const laptop = await register(a.url);
    const email = laptop.user.email;
    const phone = await login(b.url, email, PASSWORD, "phone");
    const asked = await requestReset(a.url, email, { host: "evil.example", "x-forwarded-host": "evil.example" });
    expect(asked.data).toEqual({ requestPasswordReset: true });
    const mail = await mailbox.nth(email, /Reset your password/);
    expect(linkIn(mail).startsWith(`${APP_URL}/reset-password#token=`)).toBe(true);
    expect(mail.html).toContain(`href="${APP_URL}/reset-password#token=`);

    const reset = await resetPassword(b.url, tokenIn(mail));
    expect(reset.data).toEqual({ resetPassword: true });
    for (const url of [a.url, b.url]) {
      for (const session of [laptop, phone]) {
        expectRefused(await me(url, session.accessToken), "TOKEN_REVOKED");
        expectRefused(await refresh(url, session.refreshToken!), "TOKEN_REVOKED");
      }
    }
    expectRefused(await send(a.url, LoginDocument, { input: { email, password: PASSWORD } }), "INVALID_CREDENTIALS");
    const after = await login(a.url, email, NEW_PASSWORD);
    expect(after.user.emailVerified).toBe(true);
    const notice = await mailbox.nth(email, /Your password was changed/);
    expect(notice.text).not.toMatch(/token=/);
  });

  it("takes a token once; a newer link supersedes an older one; an expired or made-up token gets the same answer", async () => {
    const { user } = await register(a.url);
    await requestReset(a.url, user.email);
    await requestReset(b.url, user.email);
    const first = tokenIn(await mailbox.nth(user.email, /Reset your password/, 1));
    const second = tokenIn(await mailbox.nth(user.email, /Reset your password/, 2));
    const invalid = { code: "BAD_USER_INPUT", reason: "INVALID_MAIL_TOKEN" };
    expect((await resetPassword(a.url, first)).error).toMatchObject(invalid);
    expect((await resetPassword(a.url, second)).data).toEqual({ resetPassword: true });
    expect((await resetPassword(b.url, second, "yet another passphrase")).error).toMatchObject(invalid);

    await requestReset(a.url, user.email);
    const third = tokenIn(await mailbox.nth(user.email, /Reset your password/, 3));
    clock.offsetMs = RESET_TTL * 1000 + 1000;
    expect((await resetPassword(a.url, third)).error).toMatchObject(invalid);
    expect((await resetPassword(a.url, `${user.id}.${"A".repeat(43)}`)).error).toMatchObject(invalid);
    expect((await resetPassword(a.url, "not a token")).error).toMatchObject(invalid);
    expect((await resetPassword(a.url, `nobody.${"A".repeat(43)}`)).error).toMatchObject(invalid);
  });

  it("answers an unknown address exactly as a known one, in the same time, and mails only the known one", async () => {
    const { user } = await register(a.url);
    const unknown = uniqueEmail("nobody");
    let mailed = 0;
    // Paired: each known request beside an unknown one, so a burst of load on a shared machine
    // (other test files run beside this one) lands on both or on one pair, and the median of the
    // 30 differences sets it aside; a difference in the code is in every pair.
    const differences: number[] = [];
    for (let i = 0; i < 30; i++) {
      // Alternating which goes first, so neither always follows the other's mail.
      const pair = i % 2 === 0 ? [user.email, unknown] : [unknown, user.email];
      const answers = new Map<string, [GraphQLResponse<unknown>, number]>();
      for (const email of pair) {
        answers.set(email, await timed(() => requestReset(a.url, email)));
        // The in-process SMTP server shares this process: let it take the mail before the next measurement.
        if (email === user.email) await mailbox.nth(user.email, /Reset your password/, ++mailed);
      }
      const [k, kMs] = answers.get(user.email)!;
      const [u, uMs] = answers.get(unknown)!;
      expect({ status: u.status, data: u.data, errors: u.errors }).toEqual({ status: k.status, data: k.data, errors: k.errors });
      differences.push(kMs - uMs);
    }
    console.log(`requestPasswordReset timing, known minus unknown, median of 30 pairs: ${median(differences).toFixed(2)} ms`);
    expect(Math.abs(median(differences))).toBeLessThan(5);
    await mailbox.nth(user.email, /Reset your password/, mailed);
    expect(mailbox.to(unknown)).toEqual([]);
  }, 60_000);

  it("clears the login throttle of the address for the client that completed the reset", async () => {
    const { user } = await register(a.url);
    for (let i = 0; i < 5; i++) await send(a.url, LoginDocument, { input: { email: user.email, password: "wrong password!" } });
    expectRefused(await send(a.url, LoginDocument, { input: { email: user.email, password: PASSWORD } }), "LOGIN_THROTTLED");
    await requestReset(a.url, user.email);
    await resetPassword(a.url, tokenIn(await mailbox.nth(user.email, /Reset your password/)));
    expect((await send(a.url, LoginDocument, { input: { email: user.email, password: NEW_PASSWORD } })).data?.login.user.id).toBe(user.id);
  });
});

describe("email verification", () => {
  it("register mails a link; verifyEmail marks the address verified once, and tokens carry email_verified", async () => {
    const session = await register(a.url);
    expect(session.user.emailVerified).toBe(false);
    expect(claims(session.accessToken).email_verified).toBe(false);
    const mail = await mailbox.nth(session.user.email, /Confirm your email address/);
    expect(linkIn(mail).startsWith(`${APP_URL}/verify-email#token=`)).toBe(true);
    expect((await send(b.url, VerifyEmailDocument, { token: tokenIn(mail) })).data).toEqual({ verifyEmail: true });
    expect((await me(a.url, session.accessToken)).data?.me.emailVerified).toBe(true);
    expectRefused(await send(b.url, VerifyEmailDocument, { token: tokenIn(mail) }), "INVALID_MAIL_TOKEN");
    const refreshed = await refresh(a.url, session.refreshToken!);
    expect(claims(refreshed.data!.refresh.accessToken).email_verified).toBe(true);
  });

  it("sendVerificationEmail needs a session, mails a new link that supersedes the old, and an expired link is refused", async () => {
    expectRefused(await send(a.url, SendVerificationEmailDocument, {}), "AUTHENTICATION_REQUIRED");
    const session = await register(a.url);
    const old = tokenIn(await mailbox.nth(session.user.email, /Confirm your email address/));
    expect((await send(a.url, SendVerificationEmailDocument, {}, { token: session.accessToken })).data).toEqual({ sendVerificationEmail: true });
    const fresh = tokenIn(await mailbox.nth(session.user.email, /Confirm your email address/, 2));
    expectRefused(await send(a.url, VerifyEmailDocument, { token: old }), "INVALID_MAIL_TOKEN");
    clock.offsetMs = VERIFY_TTL * 1000 + 1000;
    expectRefused(await send(a.url, VerifyEmailDocument, { token: fresh }), "INVALID_MAIL_TOKEN");
  });

  describe("with REQUIRE_VERIFIED_EMAIL=on", () => {
    let strict: RunningServer;
    beforeAll(async () => {
      strict = await start({ REQUIRE_VERIFIED_EMAIL: "on" });
    });
    const registerOn = (email: string, password = PASSWORD) => send(strict.url, RegisterDocument, { input: { email, password } });
    const loginWith = (email: string, password: string) => send(strict.url, LoginDocument, { input: { email, password } });

    it("register starts no session and answers EMAIL_NOT_VERIFIED; login is refused until the link is followed", async () => {
      const email = uniqueEmail("strict");
      const answer = await registerOn(email);
      expect(answer.data).toBeNull();
      expect(answer.error).toMatchObject({ code: "FORBIDDEN", reason: "EMAIL_NOT_VERIFIED" });
      // No account until the link is used: the right password is refused like any other.
      const loginBefore = await send(strict.url, LoginDocument, { input: { email, password: PASSWORD } });
      expect(loginBefore.error).toMatchObject({ code: "UNAUTHENTICATED", reason: "INVALID_CREDENTIALS" });
      expectRefused(await send(strict.url, LoginDocument, { input: { email, password: "wrong password!" } }), "INVALID_CREDENTIALS");
      const link = tokenIn(await mailbox.nth(email, /Confirm your email address/));
      expect((await send(b.url, VerifyEmailDocument, { token: link })).data).toEqual({ verifyEmail: true });
      const session = await login(strict.url, email);
      expect(claims(session.accessToken).email_verified).toBe(true);
      expectRefused(await send(strict.url, VerifyEmailDocument, { token: link }), "INVALID_MAIL_TOKEN");
    });

    it("a login with the password given at register answers an address that has an account exactly as a new one", async () => {
      const owner = (await register(a.url)).user.email;
      const fresh = uniqueEmail("fresh");
      const chosen = "the registrant's passphrase";
      const registered = [await registerOn(owner, chosen), await registerOn(fresh, chosen)];
      expect(registered.map(({ status, data, errors }) => ({ status, data, errors }))).toEqual(Array(2).fill({ status: registered[0]!.status, data: null, errors: registered[0]!.errors }));
      const [taken, fresher] = [await loginWith(owner, chosen), await loginWith(fresh, chosen)];
      expect(taken.error).toMatchObject({ code: "UNAUTHENTICATED", reason: "INVALID_CREDENTIALS" });
      expect({ status: fresher.status, data: fresher.data, errors: fresher.errors }).toEqual({ status: taken.status, data: taken.data, errors: taken.errors });
      // Only the owner's own password reaches their account (unverified: made with the switch off).
      expectRefused(await loginWith(owner, PASSWORD), "EMAIL_NOT_VERIFIED");
    });

    it("each registration's link creates the account with its own password; once one is used the others are refused", async () => {
      const email = uniqueEmail("twice");
      await registerOn(email, "the first passphrase");
      await registerOn(email, "the second passphrase");
      const first = tokenIn(await mailbox.nth(email, /Confirm your email address/, 1));
      const second = tokenIn(await mailbox.nth(email, /Confirm your email address/, 2));
      expect((await send(strict.url, VerifyEmailDocument, { token: first })).data).toEqual({ verifyEmail: true });
      expect((await login(strict.url, email, "the first passphrase")).user.emailVerified).toBe(true);
      expectRefused(await loginWith(email, "the second passphrase"), "INVALID_CREDENTIALS");
      expectRefused(await send(strict.url, VerifyEmailDocument, { token: second }), "INVALID_MAIL_TOKEN");
      // An expired registration's link creates nothing.
      const late = uniqueEmail("late");
      await registerOn(late);
      const token = tokenIn(await mailbox.nth(late, /Confirm your email address/));
      clock.offsetMs = VERIFY_TTL * 1000 + 1000;
      expectRefused(await send(strict.url, VerifyEmailDocument, { token }), "INVALID_MAIL_TOKEN");
      clock.offsetMs = 0;
      expectRefused(await loginWith(late, PASSWORD), "INVALID_CREDENTIALS");
    });

    it("answers an address that has an account exactly as a new one, in about the same time, and mails its owner a notice", async () => {
      const owner = uniqueEmail("owner");
      await registerOn(owner);
      // The account exists once its link is used.
      await send(strict.url, VerifyEmailDocument, { token: tokenIn(await mailbox.nth(owner, /Confirm your email address/)) });
      const taken: number[] = [];
      const fresh: number[] = [];
      const differences: number[] = [];
      // Alternating which goes first: the first of a pair shares the machine with the last pair's mail.
      for (let i = 0; i < 20; i++) {
        const first = i % 2 === 0;
        const [f, fMs] = first ? await timed(() => registerOn(uniqueEmail("fresh"))) : [null, 0];
        const [t, tMs] = await timed(() => registerOn(owner));
        const [f2, f2Ms] = first ? [f!, fMs] : await timed(() => registerOn(uniqueEmail("fresh")));
        expect({ status: t.status, data: t.data, errors: t.errors }).toEqual({ status: f2.status, data: f2.data, errors: f2.errors });
        taken.push(tMs);
        fresh.push(f2Ms);
        differences.push(tMs - f2Ms);
      }
      console.log(`register with REQUIRE_VERIFIED_EMAIL=on, medians of 20: ${JSON.stringify({ existingMs: median(taken).toFixed(2), newMs: median(fresh).toFixed(2), pairedDifferenceMs: median(differences).toFixed(2) })}`);
      // argon2 dominates both and varies with the machine's load, so the pairs are compared: a burst
      // of load lands on one pair, while a difference in the work would be in every pair.
      expect(Math.abs(median(differences))).toBeLessThan(Math.max(15, 0.15 * median(fresh)));
      const notice = await mailbox.nth(owner, /Someone tried to register/);
      expect(notice.text).not.toMatch(/token=/);
      expect(mailbox.to(owner).filter((mail) => /Confirm your email/.test(mail.subject))).toHaveLength(1);
    });
  });
});

describe("email change", () => {
  const requestChange = (url: string, token: string, newEmail: string, currentPassword = PASSWORD) =>
    send(url, RequestEmailChangeDocument, { newEmail, currentPassword }, { token });

  it("mails a link to the new address and a notice to the old; confirming moves the account, verifies it and ends the other sessions on both instances", async () => {
    const laptop = await register(a.url);
    const oldEmail = laptop.user.email;
    const phone = await login(b.url, oldEmail, PASSWORD, "phone");
    const newEmail = uniqueEmail("moved");
    expect((await requestChange(a.url, laptop.accessToken, newEmail)).data).toEqual({ requestEmailChange: true });
    const notice = await mailbox.nth(oldEmail, /about to change/);
    expect(notice.text).toContain(newEmail);
    const mail = await mailbox.nth(newEmail, /Confirm your new email address/);
    expect(linkIn(mail).startsWith(`${APP_URL}/confirm-email-change#token=`)).toBe(true);

    expect((await send(b.url, ConfirmEmailChangeDocument, { token: tokenIn(mail) })).data).toEqual({ confirmEmailChange: true });
    const mine = await me(b.url, laptop.accessToken);
    expect(mine.data?.me).toMatchObject({ email: newEmail, emailVerified: true });
    for (const url of [a.url, b.url]) expectRefused(await me(url, phone.accessToken), "TOKEN_REVOKED");
    expectRefused(await send(a.url, LoginDocument, { input: { email: oldEmail, password: PASSWORD } }), "INVALID_CREDENTIALS");
    expect((await login(a.url, newEmail)).user.id).toBe(laptop.user.id);
    // The old address is free again; the link worked once.
    expect((await register(a.url, { email: oldEmail })).user.email).toBe(oldEmail);
    expectRefused(await send(a.url, ConfirmEmailChangeDocument, { token: tokenIn(mail) }), "INVALID_MAIL_TOKEN");
  });

  it("answers an address in use like any other and mails it no link; a wrong password is refused like a login", async () => {
    const session = await register(a.url);
    const other = await register(a.url);
    expect((await requestChange(a.url, session.accessToken, other.user.email)).data).toEqual({ requestEmailChange: true });
    await mailbox.nth(session.user.email, /about to change/);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(mailbox.to(other.user.email).filter((mail) => /new email/.test(mail.subject))).toEqual([]);
    expectRefused(await requestChange(a.url, session.accessToken, uniqueEmail(), "wrong password!"), "INVALID_CREDENTIALS");
    expectRefused(await send(a.url, RequestEmailChangeDocument, { newEmail: uniqueEmail(), currentPassword: PASSWORD }), "AUTHENTICATION_REQUIRED");
  });

  it("a password reset cancels a pending email change", async () => {
    const session = await register(a.url);
    const newEmail = uniqueEmail("hijack");
    await requestChange(a.url, session.accessToken, newEmail);
    const link = tokenIn(await mailbox.nth(newEmail, /Confirm your new email address/));
    await requestReset(a.url, session.user.email);
    await resetPassword(a.url, tokenIn(await mailbox.nth(session.user.email, /Reset your password/)));
    expectRefused(await send(a.url, ConfirmEmailChangeDocument, { token: link }), "INVALID_MAIL_TOKEN");
  });

  /** An intruder who knows the password asks, from a session of their own, to move the account. */
  async function intruderAsks(owner: AuthPayloadFieldsFragment) {
    const intruder = await login(b.url, owner.user.email, PASSWORD, "intruder");
    const evil = uniqueEmail("evil");
    expect((await requestChange(b.url, intruder.accessToken, evil)).data).toEqual({ requestEmailChange: true });
    const link = tokenIn(await mailbox.nth(evil, /Confirm your new email address/));
    const notice = await mailbox.nth(owner.user.email, /about to change/);
    return { intruder, evil, link, notice };
  }

  /** The takeover did not happen: the link is refused, the account keeps its address and the owner signs in. */
  async function expectNoTakeover(owner: AuthPayloadFieldsFragment, link: string, evil: string, password = PASSWORD) {
    expectRefused(await send(a.url, ConfirmEmailChangeDocument, { token: link }), "INVALID_MAIL_TOKEN");
    expectRefused(await send(b.url, LoginDocument, { input: { email: evil, password } }), "INVALID_CREDENTIALS");
    expect((await login(a.url, owner.user.email, password)).user.id).toBe(owner.user.id);
  }

  it("the reported takeover: after the owner changes the password and logs out everywhere, the intruder's link is refused", async () => {
    const owner = await register(a.url);
    const { intruder, evil, link } = await intruderAsks(owner);
    const changed = await send(a.url, ChangePasswordDocument, { currentPassword: PASSWORD, newPassword: NEW_PASSWORD }, { token: owner.accessToken });
    expect(changed.error).toBeUndefined();
    await send(a.url, LogoutAllDocument, {}, { token: owner.accessToken });
    const again = await login(a.url, owner.user.email, NEW_PASSWORD);
    expectRefused(await me(b.url, intruder.accessToken), "TOKEN_REVOKED");
    await expectNoTakeover(owner, link, evil, NEW_PASSWORD);
    expect((await me(b.url, again.accessToken)).data?.me).toMatchObject({ email: owner.user.email });
  });

  it("a password change made from the very session that asked cancels the change too", async () => {
    const owner = await register(a.url);
    const evil = uniqueEmail("evil");
    await requestChange(a.url, owner.accessToken, evil);
    const link = tokenIn(await mailbox.nth(evil, /Confirm your new email address/));
    await send(a.url, ChangePasswordDocument, { currentPassword: PASSWORD, newPassword: NEW_PASSWORD }, { token: owner.accessToken });
    expect((await me(a.url, owner.accessToken)).data?.me).toBeTruthy();
    await expectNoTakeover(owner, link, evil, NEW_PASSWORD);
  });

  it.each([
    ["logoutAll, from any session", (owner: AuthPayloadFieldsFragment) => send(a.url, LogoutAllDocument, {}, { token: owner.accessToken })],
    ["the end of the session that asked (logout)", (_owner: AuthPayloadFieldsFragment, intruder: AuthPayloadFieldsFragment) => send(b.url, LogoutDocument, {}, { token: intruder.accessToken })],
    ["an admin's revokeUserSessions", (owner: AuthPayloadFieldsFragment) => send(a.url, RevokeUserSessionsDocument, { userId: owner.user.id }, { token: admin.accessToken })],
  ])("%s cancels a pending email change", async (_name, cancel) => {
    const owner = await register(a.url);
    const { intruder, evil, link } = await intruderAsks(owner);
    expect((await cancel(owner, intruder)).error).toBeUndefined();
    await expectNoTakeover(owner, link, evil);
  });

  it("disabling the user cancels a pending email change, and enabling it again does not revive it", async () => {
    const owner = await register(a.url);
    const { evil, link } = await intruderAsks(owner);
    const disable = (disabled: boolean) => send(a.url, SetUserDisabledDocument, { userId: owner.user.id, disabled }, { token: admin.accessToken });
    expect((await disable(true)).error).toBeUndefined();
    expect((await disable(false)).error).toBeUndefined();
    await expectNoTakeover(owner, link, evil);
  });

  it("a request to an address in use replaces a pending link just as one to a free address does", async () => {
    const owner = await register(a.url);
    const taken = await register(a.url);
    const free = uniqueEmail("free");
    await requestChange(a.url, owner.accessToken, free);
    const first = tokenIn(await mailbox.nth(free, /Confirm your new email address/));
    await requestChange(a.url, owner.accessToken, taken.user.email);
    expectRefused(await send(a.url, ConfirmEmailChangeDocument, { token: first }), "INVALID_MAIL_TOKEN");
    expect((await me(a.url, owner.accessToken)).data?.me).toMatchObject({ email: owner.user.email });
  });

  describe("\"this was not me\": the link in the notice to the old address", () => {
    const cancel = (url: string, token: string) => send(url, CancelEmailChangeDocument, { token });

    it("cancels the pending change and ends every session on both instances, closing their sockets", async () => {
      const owner = await register(a.url);
      const { intruder, evil, link, notice } = await intruderAsks(owner);
      expect(linkIn(notice).startsWith(`${APP_URL}/cancel-email-change#token=`)).toBe(true);
      const sockets = await Promise.all([openLive(a.url, owner.accessToken), openLive(b.url, intruder.accessToken)]);
      expect((await cancel(a.url, tokenIn(notice))).data).toEqual({ cancelEmailChange: true });
      for (const socket of sockets) expect((await closedWithin(socket, 2000)).code).toBe(4401);
      for (const session of [owner, intruder]) {
        for (const url of [a.url, b.url]) expectRefused(await me(url, session.accessToken), "TOKEN_REVOKED");
      }
      expectRefused(await send(a.url, ConfirmEmailChangeDocument, { token: link }), "INVALID_MAIL_TOKEN");
      // The password whoever asked knew is retired; a reset link goes to the address at once.
      expectRefused(await send(b.url, LoginDocument, { input: { email: owner.user.email, password: PASSWORD } }), "INVALID_CREDENTIALS");
      const reset = await mailbox.nth(owner.user.email, /Reset your password/);
      expect((await resetPassword(a.url, tokenIn(reset))).data).toEqual({ resetPassword: true });
      expect((await login(b.url, owner.user.email, NEW_PASSWORD)).user.id).toBe(owner.user.id);
      // Works once.
      expectRefused(await cancel(b.url, tokenIn(notice)), "INVALID_MAIL_TOKEN");
    });

    it("moves the account back when the intruder confirmed first, and frees the intruder's address", async () => {
      const owner = await register(a.url);
      const { intruder, evil, link, notice } = await intruderAsks(owner);
      expect((await send(b.url, ConfirmEmailChangeDocument, { token: link })).data).toEqual({ confirmEmailChange: true });
      expect((await me(a.url, intruder.accessToken)).data?.me).toMatchObject({ email: evil });
      expect((await cancel(b.url, tokenIn(notice))).data).toEqual({ cancelEmailChange: true });
      expectRefused(await me(a.url, intruder.accessToken), "TOKEN_REVOKED");
      await resetPassword(a.url, tokenIn(await mailbox.nth(owner.user.email, /Reset your password/)), PASSWORD);
      const back = await login(a.url, owner.user.email);
      expect(back.user).toMatchObject({ id: owner.user.id, email: owner.user.email });
      expectRefused(await send(a.url, LoginDocument, { input: { email: evil, password: PASSWORD } }), "INVALID_CREDENTIALS");
      expect((await register(a.url, { email: evil })).user.email).toBe(evil);
    });

    it("cannot be taken from the owner by a second change: none is taken while the first can be undone", async () => {
      const owner = await register(a.url);
      const { intruder, evil, link, notice } = await intruderAsks(owner);
      expect((await send(b.url, ConfirmEmailChangeDocument, { token: link })).data).toEqual({ confirmEmailChange: true });
      const again = await requestChange(b.url, intruder.accessToken, uniqueEmail("evil-again"));
      expect(again.error).toMatchObject({ code: "FORBIDDEN", reason: "EMAIL_CHANGE_TOO_SOON" });
      expect((await cancel(a.url, tokenIn(notice))).data).toEqual({ cancelEmailChange: true });
      await resetPassword(a.url, tokenIn(await mailbox.nth(owner.user.email, /Reset your password/)), PASSWORD);
      expect((await login(a.url, owner.user.email)).user.id).toBe(owner.user.id);
      expectRefused(await send(a.url, LoginDocument, { input: { email: evil, password: PASSWORD } }), "INVALID_CREDENTIALS");
    });

    it("a second change is taken once the first can no longer be undone", async () => {
      const owner = await register(a.url);
      const moved = uniqueEmail("moved");
      await requestChange(a.url, owner.accessToken, moved);
      await send(a.url, ConfirmEmailChangeDocument, { token: tokenIn(await mailbox.nth(moved, /Confirm your new email address/)) });
      expect((await requestChange(a.url, owner.accessToken, uniqueEmail("later"))).error).toMatchObject({ reason: "EMAIL_CHANGE_TOO_SOON" });
      clock.offsetMs = (VERIFY_TTL + 1) * 1000;
      const later = await login(a.url, moved);
      expect((await requestChange(a.url, later.accessToken, uniqueEmail("later"))).data).toEqual({ requestEmailChange: true });
    });

    it("a made-up, tampered or expired token is refused and changes nothing", async () => {
      const owner = await register(a.url);
      const { link, notice } = await intruderAsks(owner);
      const token = tokenIn(notice);
      expectRefused(await cancel(a.url, "made-up"), "INVALID_MAIL_TOKEN");
      expectRefused(await cancel(a.url, `${owner.user.id}.${"A".repeat(43)}`), "INVALID_MAIL_TOKEN");
      expectRefused(await cancel(a.url, link), "INVALID_MAIL_TOKEN");
      expect((await me(a.url, owner.accessToken)).data?.me).toBeTruthy();
      clock.offsetMs = (VERIFY_TTL + 1) * 1000;
      expectRefused(await cancel(a.url, token), "INVALID_MAIL_TOKEN");
    });
  });
});

describeOnce("recovery throttles", () => {
  it("refuse past RECOVERY_MAX_PER_ADDRESS alike for a known and an unknown address, with Retry-After", async () => {
    const limited = await start({ RECOVERY_MAX_PER_ADDRESS: "3" });
    const { user } = await register(limited.url);
    const unknown = uniqueEmail("nobody");
    for (let i = 0; i < 3; i++) {
      expect((await requestReset(limited.url, user.email)).data).toEqual({ requestPasswordReset: true });
      expect((await requestReset(limited.url, unknown)).data).toEqual({ requestPasswordReset: true });
    }
    const known = await requestReset(limited.url, user.email);
    const stranger = await requestReset(limited.url, unknown);
    expect(known.status).toBe(429);
    expect(known.error).toMatchObject({ code: "TOO_MANY_REQUESTS", reason: "RECOVERY_THROTTLED" });
    expect({ status: stranger.status, errors: stranger.errors, data: stranger.data }).toEqual({ status: known.status, errors: known.errors, data: known.data });
    expect(Number(known.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(stranger.headers.get("retry-after")).toBe(known.headers.get("retry-after"));
  });

  it("a stranger's client spends its own RECOVERY_MAX_PER_ADDRESS_AND_IP; the owner's client still gets its reset", async () => {
    const limited = await start({ TRUST_PROXY: "1", RECOVERY_MAX_PER_ADDRESS_AND_IP: "2", RECOVERY_MAX_PER_ADDRESS: "5" }, null);
    const { user } = await register(limited.url);
    const from = (ip: string) => ({ "x-forwarded-for": ip });
    for (let i = 0; i < 2; i++) expect((await requestReset(limited.url, user.email, from("198.51.100.7"))).data).toEqual({ requestPasswordReset: true });
    for (let i = 0; i < 10; i++) {
      const refused = await requestReset(limited.url, user.email, from("198.51.100.7"));
      expect(refused.status).toBe(429);
      expect(refused.error).toMatchObject({ code: "TOO_MANY_REQUESTS", reason: "RECOVERY_THROTTLED" });
    }
    // The refused ones were given back to the address's count: the owner's client is still under it.
    expect((await requestReset(limited.url, user.email, from("203.0.113.20"))).data).toEqual({ requestPasswordReset: true });
    await mailbox.nth(user.email, /Reset your password/, 3);
  });

  it("RECOVERY_MAX_PER_ADDRESS still bounds the mails one address gets from every client together", async () => {
    const limited = await start({ TRUST_PROXY: "1", RECOVERY_MAX_PER_ADDRESS_AND_IP: "2", RECOVERY_MAX_PER_ADDRESS: "5" }, null);
    const { user } = await register(limited.url);
    const answers: number[] = [];
    for (let client = 1; client <= 6; client++) {
      for (let i = 0; i < 3; i++) answers.push((await requestReset(limited.url, user.email, { "x-forwarded-for": `192.0.2.${client}` })).status);
    }
    expect(answers.filter((status) => status === 200)).toHaveLength(5);
    await mailbox.nth(user.email, /Reset your password/, 5);
    // Give a sixth mail the time to arrive if one had been sent.
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(mailbox.to(user.email).filter((mail) => /Reset your password/.test(mail.subject))).toHaveLength(5);
  });

  it("refuse past RECOVERY_MAX_PER_IP, and count verification mails too", async () => {
    const limited = await start({ RECOVERY_MAX_PER_IP: "2" }, null);
    const session = await register(limited.url);
    expect((await requestReset(limited.url, uniqueEmail())).data).toEqual({ requestPasswordReset: true });
    expect((await send(limited.url, SendVerificationEmailDocument, {}, { token: session.accessToken })).data).toEqual({ sendVerificationEmail: true });
    expectRefused(await requestReset(limited.url, uniqueEmail()), "RECOVERY_THROTTLED");
    expectRefused(await send(limited.url, SendVerificationEmailDocument, {}, { token: session.accessToken }), "RECOVERY_THROTTLED");
  });
});

describeOnce("bounded work per request", () => {
  it("runs at most one mail or password mutation per request, aliases included", async () => {
    const query = `mutation { a: resetPassword(token: "x", newPassword: "long enough") b: resetPassword(token: "y", newPassword: "long enough") }`;
    const twice = await post(a.url, { query });
    expect(twice.status).toBe(400);
    expect(twice.errors?.[0]?.extensions?.code).toBe("GRAPHQL_VALIDATION_FAILED");
    const mixed = await post(a.url, { query: `mutation { requestPasswordReset(email: "a@example.com") login(input: {email: "a@example.com", password: "long enough"}) { sessionId } }` });
    expect(mixed.errors?.[0]?.message).toMatch(/At most one of register, login, refresh and changePassword/);
  });
});

describeOnce("mail outages and MAIL_URL=off", () => {
  it("SMTP down (connection refused) changes no response; the failure is counted and logged without the token", async () => {
    const down = await start({ MAIL_URL: `smtp://127.0.0.1:${await freePort()}`, MAIL_MAX_ATTEMPTS: "1" }, null);
    const session = await register(down.url);
    const known = await requestReset(down.url, session.user.email);
    const unknown = await requestReset(down.url, uniqueEmail());
    expect({ status: known.status, data: known.data }).toEqual({ status: 200, data: { requestPasswordReset: true } });
    expect({ status: unknown.status, data: unknown.data }).toEqual({ status: 200, data: { requestPasswordReset: true } });
    const metricsUrl = down.url.replace(/graphql$/, "metrics");
    await eventually("three mails counted as failed", async () => {
      const text = await (await fetch(metricsUrl)).text();
      const line = text.split("\n").filter((l) => l.startsWith("auth_mail_failures_total{") && l.includes('outcome="failed"'));
      return line.reduce((sum, l) => sum + Number(l.split(" ")[1]), 0) >= 2;
    });
    const failures = logLines.filter((line) => line.includes("mail not sent"));
    expect(failures.length).toBeGreaterThan(0);
    for (const line of failures) expect(line).not.toMatch(/token|#|reset-password/);
  });

  it("MAIL_URL=off answers MAIL_DISABLED from every mail flow, and register still works", async () => {
    const off = await start({ MAIL_URL: "off" }, null);
    const session = await register(off.url);
    const disabled = { code: "FORBIDDEN", reason: "MAIL_DISABLED" };
    expect((await requestReset(off.url, session.user.email)).error).toMatchObject(disabled);
    expect((await resetPassword(off.url, "x.y")).error).toMatchObject(disabled);
    expect((await send(off.url, VerifyEmailDocument, { token: "x.y" })).error).toMatchObject(disabled);
    expect((await send(off.url, SendVerificationEmailDocument, {}, { token: session.accessToken })).error).toMatchObject(disabled);
    expect((await send(off.url, ConfirmEmailChangeDocument, { token: "x.y" })).error).toMatchObject(disabled);
    expect((await send(off.url, CancelEmailChangeDocument, { token: "x.y" })).error).toMatchObject(disabled);
  });
});

describeOnce("the audit trail of the mail flows", () => {
  it("logs each request, reset, verification and change, and no token appears in any log line", () => {
    for (const event of ["password_reset_requested", "password_reset", "verification_sent", "email_verified", "email_change_requested", "email_changed", "email_change_cancelled", "register_existing_address"]) {
      expect(logLines.some((line) => line.includes(`"audit":"${event}"`))).toBe(true);
    }
    const tokens = mailbox.mails.filter((mail) => /#token=/.test(mail.text)).map(tokenIn);
    expect(tokens.length).toBeGreaterThan(10);
    for (const token of tokens) {
      const secret = token.split(".")[1]!;
      expect(logLines.filter((line) => line.includes(secret))).toEqual([]);
    }
  });
});
