import { PASSWORD, uniqueEmail } from "../support/client";
import { composeDomain, NEW_PASSWORD, ORIGIN, refusal, type Domain } from "../support/domain";

describe("mailed links, on the domain alone", () => {
  let domain: Domain;
  beforeEach(async () => {
    domain = await composeDomain();
  });
  afterEach(() => domain.close());

  const signUp = (email = uniqueEmail("links")) => domain.accounts.register({ email, password: PASSWORD, device: "laptop" }, ORIGIN);
  const signIn = (email: string, password = PASSWORD) => domain.accounts.login({ email, password, device: "phone" }, ORIGIN);

  describe("password reset", () => {
    it("a reset link sets the password and ends every session, signing nobody in", async () => {
      const laptop = await signUp();
      const phone = await signIn(laptop.user.email);
      await domain.recovery.requestPasswordReset(laptop.user.email, ORIGIN);
      await domain.recovery.resetPassword(domain.tokenMailedTo(laptop.user.email, "password-reset"), NEW_PASSWORD, ORIGIN);
      for (const session of [laptop, phone]) {
        expect(await refusal(domain.identify(session))).toBe("TOKEN_REVOKED");
        expect(await refusal(domain.sessions.refresh(session.refreshToken.token))).toBe("TOKEN_REVOKED");
      }
      expect(await refusal(signIn(laptop.user.email))).toBe("INVALID_CREDENTIALS");
      expect((await signIn(laptop.user.email, NEW_PASSWORD)).user.emailVerified).toBe(true);
      expect(domain.mails.at(-1)).toMatchObject({ to: laptop.user.email, template: "password-changed" });
    });

    it("takes a link once; a newer link supersedes an older one; an expired one is refused alike", async () => {
      const { user } = await signUp();
      await domain.recovery.requestPasswordReset(user.email, ORIGIN);
      const older = domain.tokenMailedTo(user.email, "password-reset");
      await domain.recovery.requestPasswordReset(user.email, ORIGIN);
      const newer = domain.tokenMailedTo(user.email, "password-reset");
      expect(await refusal(domain.recovery.resetPassword(older, NEW_PASSWORD, ORIGIN))).toBe("INVALID_MAIL_TOKEN");
      await domain.recovery.resetPassword(newer, NEW_PASSWORD, ORIGIN);
      expect(await refusal(domain.recovery.resetPassword(newer, "yet another passphrase", ORIGIN))).toBe("INVALID_MAIL_TOKEN");
      await domain.recovery.requestPasswordReset(user.email, ORIGIN);
      const late = domain.tokenMailedTo(user.email, "password-reset");
      domain.clock.advance((domain.config.passwordResetTtl + 1) * 1000);
      expect(await refusal(domain.recovery.resetPassword(late, "yet another passphrase", ORIGIN))).toBe("INVALID_MAIL_TOKEN");
      expect((await signIn(user.email, NEW_PASSWORD)).user.id).toBe(user.id);
    });

    it("answers a request for an unknown address like a known one, and mails nobody", async () => {
      const unknown = uniqueEmail("nobody");
      expect(await domain.recovery.requestPasswordReset(unknown, ORIGIN)).toBe(true);
      expect(domain.mails).toEqual([]);
    });
  });

  describe("email change", () => {
    it("confirming moves the address, verified, and ends every session but the one that asked", async () => {
      const laptop = await signUp();
      const phone = await signIn(laptop.user.email);
      const newEmail = uniqueEmail("moved");
      await domain.emailChange.request(await domain.identify(laptop), newEmail, PASSWORD, ORIGIN);
      expect(domain.mails.map((mail) => [mail.to, mail.template])).toEqual([
        [newEmail, "email-change-confirm"],
        [laptop.user.email, "email-change-requested"],
      ]);
      await domain.emailChange.confirm(domain.tokenMailedTo(newEmail, "email-change-confirm"), ORIGIN);
      expect(await refusal(domain.identify(phone))).toBe("TOKEN_REVOKED");
      expect((await domain.identify(laptop)).user).toMatchObject({ email: newEmail, emailVerified: true });
      expect(await refusal(signIn(laptop.user.email))).toBe("INVALID_CREDENTIALS");
      expect((await signIn(newEmail)).user.id).toBe(laptop.user.id);
    });

    it("a pending change dies with a password change", async () => {
      const laptop = await signUp();
      const me = await domain.identify(laptop);
      const newEmail = uniqueEmail("moved");
      await domain.emailChange.request(me, newEmail, PASSWORD, ORIGIN);
      await domain.accounts.changePassword(me, PASSWORD, NEW_PASSWORD, ORIGIN);
      expect(await refusal(domain.emailChange.confirm(domain.tokenMailedTo(newEmail, "email-change-confirm"), ORIGIN))).toBe("INVALID_MAIL_TOKEN");
      expect((await domain.accounts.getUser(laptop.user.id)).email).toBe(laptop.user.email);
    });

    it("a pending change dies with the session that asked for it", async () => {
      const laptop = await signUp();
      const me = await domain.identify(laptop);
      const newEmail = uniqueEmail("moved");
      await domain.emailChange.request(me, newEmail, PASSWORD, ORIGIN);
      await domain.sessions.logout(me);
      expect(await refusal(domain.emailChange.confirm(domain.tokenMailedTo(newEmail, "email-change-confirm"), ORIGIN))).toBe("INVALID_MAIL_TOKEN");
      expect((await domain.accounts.getUser(laptop.user.id)).email).toBe(laptop.user.email);
    });

    it("mails no link to an address another account holds, and moves nothing there", async () => {
      const mine = await signUp();
      const theirs = await signUp();
      await domain.emailChange.request(await domain.identify(mine), theirs.user.email, PASSWORD, ORIGIN);
      expect(domain.mails.map((mail) => [mail.to, mail.template])).toEqual([[mine.user.email, "email-change-requested"]]);
      expect((await domain.accounts.getUser(mine.user.id)).email).toBe(mine.user.email);
    });

    it("\"this was not me\" moves the account back, ends every session, removes the password and mails a reset link", async () => {
      const laptop = await signUp();
      const oldEmail = laptop.user.email;
      const newEmail = uniqueEmail("moved");
      await domain.emailChange.request(await domain.identify(laptop), newEmail, PASSWORD, ORIGIN);
      const cancel = domain.tokenMailedTo(oldEmail, "email-change-requested");
      await domain.emailChange.confirm(domain.tokenMailedTo(newEmail, "email-change-confirm"), ORIGIN);
      await domain.emailChange.cancel(cancel, ORIGIN);
      expect(await refusal(domain.identify(laptop))).toBe("TOKEN_REVOKED");
      expect((await domain.accounts.getUser(laptop.user.id)).email).toBe(oldEmail);
      expect(await refusal(signIn(oldEmail))).toBe("INVALID_CREDENTIALS");
      await domain.recovery.resetPassword(domain.tokenMailedTo(oldEmail, "password-reset"), NEW_PASSWORD, ORIGIN);
      expect((await signIn(oldEmail, NEW_PASSWORD)).user.id).toBe(laptop.user.id);
    });
  });

  describe("email verification", () => {
    it("with REQUIRE_VERIFIED_EMAIL=on, no account exists until the link is used, and a taken address answers alike", async () => {
      const strict = await composeDomain({ REQUIRE_VERIFIED_EMAIL: "on" });
      try {
        const email = uniqueEmail("strict");
        expect(await refusal(strict.emailVerification.register({ email, password: PASSWORD }, ORIGIN))).toBe("EMAIL_NOT_VERIFIED");
        expect(await refusal(strict.accounts.login({ email, password: PASSWORD }, ORIGIN))).toBe("INVALID_CREDENTIALS");
        await strict.emailVerification.verify(strict.tokenMailedTo(email, "verify-email"), ORIGIN);
        expect((await strict.accounts.login({ email, password: PASSWORD }, ORIGIN)).user).toMatchObject({ email, emailVerified: true });
        expect(await refusal(strict.emailVerification.register({ email, password: "another passphrase" }, ORIGIN))).toBe("EMAIL_NOT_VERIFIED");
        expect(strict.mails.at(-1)).toMatchObject({ to: email, template: "account-exists" });
        expect(await refusal(strict.accounts.login({ email, password: "another passphrase" }, ORIGIN))).toBe("INVALID_CREDENTIALS");
      } finally {
        strict.close();
      }
    });
  });
});
