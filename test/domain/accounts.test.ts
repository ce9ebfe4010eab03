import argon2 from "argon2";
import pino from "pino";
import { OWASP_HASHING, Passwords } from "../../src/auth/accounts/passwords";
import { PASSWORD as PASSWORD_ASSURANCE } from "../../src/auth/tokens/assurance";
import { TEST_HASHING } from "../support/api";
import { PASSWORD, uniqueEmail } from "../support/client";
import { costOf } from "../support/passwords";
import { composeDomain, NEW_PASSWORD, ORIGIN, refusal, type Domain } from "../support/domain";

/** Who an admin change is recorded as coming from: a signed-in session's user and session. */
const actor = (signedIn: { user: { id: string }; session: { id: string } }) => ({ userId: signedIn.user.id, sessionId: signedIn.session.id });
/** An admin acting from elsewhere, where the test is not about who acts. */
const ADMIN_ACTOR = { userId: "an-admin", sessionId: "an-admin-session" };

describe("accounts, on the domain alone", () => {
  let domain: Domain;
  beforeEach(async () => {
    domain = await composeDomain();
  });
  afterEach(() => domain.close());

  const signUp = (email = uniqueEmail("accounts")) => domain.accounts.register({ email, password: PASSWORD, device: "laptop" }, ORIGIN);
  const signIn = (email: string, password = PASSWORD, origin = ORIGIN) => domain.accounts.login({ email, password, device: "phone" }, origin);

  it("refuses an unknown email and a wrong password with the same error", async () => {
    const { user } = await signUp();
    expect(await refusal(signIn(user.email, "wrong password"))).toBe("INVALID_CREDENTIALS");
    expect(await refusal(signIn(uniqueEmail("nobody"), "wrong password"))).toBe("INVALID_CREDENTIALS");
  });

  it("refuses a second account for an address in another case", async () => {
    const { user } = await signUp();
    expect(await refusal(signUp(user.email.toUpperCase()))).toBe("EMAIL_TAKEN");
  });

  it("a password change ends every other session, keeps the caller's, and swaps the password", async () => {
    const laptop = await signUp();
    const phone = await signIn(laptop.user.email);
    await domain.accounts.changePassword(await domain.identify(laptop), PASSWORD, NEW_PASSWORD, ORIGIN);
    expect(await refusal(domain.identify(phone))).toBe("TOKEN_REVOKED");
    expect(await refusal(domain.sessions.refresh(phone.refreshToken.token))).toBe("TOKEN_REVOKED");
    expect((await domain.identify(laptop)).sessionId).toBe(laptop.session.id);
    expect(await refusal(signIn(laptop.user.email))).toBe("INVALID_CREDENTIALS");
    expect((await signIn(laptop.user.email, NEW_PASSWORD)).user.id).toBe(laptop.user.id);
    expect(domain.revocations.at(-1)).toMatchObject({ kind: "password_change", keepSessionId: laptop.session.id });
  });

  it("a password change with a wrong current password changes nothing and ends nothing", async () => {
    const laptop = await signUp();
    const phone = await signIn(laptop.user.email);
    expect(await refusal(domain.accounts.changePassword(await domain.identify(laptop), "wrong password", NEW_PASSWORD, ORIGIN))).toBe("INVALID_CREDENTIALS");
    expect((await domain.identify(phone)).sessionId).toBe(phone.session.id);
    expect((await signIn(laptop.user.email)).user.id).toBe(laptop.user.id);
  });

  it("starts no session from a password check that a password change overtook", async () => {
    const laptop = await signUp();
    const checked = (await domain.store.getCredentials(laptop.user.id))!.passwordHash;
    await domain.accounts.changePassword(await domain.identify(laptop), PASSWORD, NEW_PASSWORD, ORIGIN);
    expect(await refusal(domain.sessions.start(laptop.user, null, PASSWORD_ASSURANCE, checked))).toBe("INVALID_CREDENTIALS");
  });

  it("refuses the right password once LOGIN_MAX_FAILURES wrong ones came from the same client, and no other client", async () => {
    const { user } = await signUp();
    for (let i = 0; i < domain.config.throttle.loginMaxFailures; i++) expect(await refusal(signIn(user.email, "wrong password"))).toBe("INVALID_CREDENTIALS");
    expect(await refusal(signIn(user.email))).toBe("LOGIN_THROTTLED");
    expect((await signIn(user.email, PASSWORD, { clientIp: "198.51.100.77" })).user.id).toBe(user.id);
  });

  it("disabling a user refuses their live tokens at once and their next login", async () => {
    const admin = await domain.accounts.register({ email: uniqueEmail("admin"), password: PASSWORD }, ORIGIN);
    await domain.store.changeAccess(admin.user.id, { roles: ["USER", "ADMIN"] }, false);
    const target = await signUp();
    await domain.accounts.setDisabled(actor(admin), target.user.id, true);
    expect(await refusal(domain.identify(target))).toBe("TOKEN_REVOKED");
    expect(await refusal(signIn(target.user.email))).toBe("ACCOUNT_DISABLED");
    await domain.accounts.setDisabled(actor(admin), target.user.id, false);
    expect((await signIn(target.user.email)).user.id).toBe(target.user.id);
  });

  it("never lets the last enabled admin go: not disabled by themselves, not stripped of ADMIN", async () => {
    const admin = await signUp();
    await domain.store.changeAccess(admin.user.id, { roles: ["USER", "ADMIN"] }, false);
    expect(await refusal(domain.accounts.setDisabled(actor(admin), admin.user.id, true))).toBe("LAST_ADMIN");
    expect(await refusal(domain.accounts.setRoles(ADMIN_ACTOR, admin.user.id, ["USER"]))).toBe("LAST_ADMIN");
    const second = await signUp();
    await domain.accounts.setRoles(ADMIN_ACTOR, second.user.id, ["USER", "ADMIN"]);
    await domain.accounts.setRoles(ADMIN_ACTOR, admin.user.id, ["USER"]);
    expect((await domain.accounts.getUser(admin.user.id)).roles).toEqual(["USER"]);
  });

  it("new roles count from the user's next request, with the token they already hold", async () => {
    const signedUp = await signUp();
    expect((await domain.identify(signedUp)).roles).toEqual(["USER"]);
    await domain.accounts.setRoles(ADMIN_ACTOR, signedUp.user.id, ["USER", "ADMIN"]);
    expect((await domain.identify(signedUp)).roles).toEqual(["USER", "ADMIN"]);
    expect(domain.revocations.at(-1)).toMatchObject({ kind: "roles_changed", userId: signedUp.user.id });
  });

  it("ensureAdmin creates the admin once, and gives ADMIN back to that account only with ADMIN_PASSWORD", async () => {
    const email = uniqueEmail("admin");
    const logger = pino({ level: "silent" });
    await domain.accounts.ensureAdmin(email, PASSWORD, logger);
    await domain.accounts.ensureAdmin(email, PASSWORD, logger);
    const admin = await signIn(email);
    expect(admin.user.roles).toEqual(["USER", "ADMIN"]);
    const other = await signUp();
    await domain.accounts.setRoles(ADMIN_ACTOR, other.user.id, ["USER", "ADMIN"]);
    await domain.accounts.setRoles(ADMIN_ACTOR, admin.user.id, ["USER"]);
    await domain.accounts.ensureAdmin(email, "not the admin password", logger);
    expect((await domain.accounts.getUser(admin.user.id)).roles).toEqual(["USER"]);
    await domain.accounts.ensureAdmin(email, PASSWORD, logger);
    expect((await domain.accounts.getUser(admin.user.id)).roles).toEqual(["USER", "ADMIN"]);
  });
});

describe("password hashing costs", () => {
  it("hashes with OWASP's argon2id settings unless told otherwise", async () => {
    const hash = await (await Passwords.create()).hash(PASSWORD);
    expect(hash.startsWith("$argon2id$")).toBe(true);
    expect(costOf(hash)).toEqual(OWASP_HASHING);
  });

  it("checks a hash made with other settings by the settings written in it, both ways", async () => {
    const [owasp, cheap] = await Promise.all([Passwords.create(), Passwords.create(null, TEST_HASHING)]);
    const cheapHash = await cheap.hash(PASSWORD);
    expect(costOf(cheapHash)).toEqual(TEST_HASHING);
    expect(await owasp.verify(cheapHash, PASSWORD)).toBe(true);
    expect(await owasp.verify(cheapHash, "wrong password")).toBe(false);
    const owaspHash = await argon2.hash(PASSWORD, { type: argon2.argon2id, ...OWASP_HASHING, parallelism: 1 });
    expect(await cheap.verify(owaspHash, PASSWORD)).toBe(true);
    expect(await cheap.verify(owaspHash, "wrong password")).toBe(false);
  });
});
