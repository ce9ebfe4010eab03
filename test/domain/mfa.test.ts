import { PASSWORD, uniqueEmail } from "../support/client";
import { composeDomain, ORIGIN, refusal, type Domain } from "../support/domain";
import { STEP_MS, stepAt, totpCode } from "../support/totp";


describe("the second factor, on the domain alone", () => {
  let domain: Domain;
  beforeEach(async () => {
    domain = await composeDomain();
  });
  afterEach(() => domain.close());

  const code = (secret: string) => totpCode(secret, stepAt(domain.clock.now()));
  const nextStep = () => domain.clock.advance(STEP_MS);
  const signIn = (email: string, device = "phone") => domain.accounts.login({ email, password: PASSWORD, device }, ORIGIN);

  /** A user with TOTP on, signed in on the laptop that confirmed it (at aal2). */
  async function enrolled() {
    const laptop = await domain.accounts.register({ email: uniqueEmail("mfa"), password: PASSWORD, device: "laptop" }, ORIGIN);
    const me = await domain.identify(laptop);
    const { secret } = await domain.mfa.enrollTotp(me, null, ORIGIN);
    const { recoveryCodes, auth } = await domain.mfa.confirmTotp(me, code(secret), ORIGIN);
    return { email: laptop.user.email, userId: laptop.user.id, secret, recoveryCodes, auth };
  }

  it("turning TOTP on ends the user's other sessions and raises the confirming one to aal2", async () => {
    const laptop = await domain.accounts.register({ email: uniqueEmail("mfa"), password: PASSWORD, device: "laptop" }, ORIGIN);
    const phone = await signIn(laptop.user.email);
    const me = await domain.identify(laptop);
    const { secret } = await domain.mfa.enrollTotp(me, null, ORIGIN);
    const { recoveryCodes, auth } = await domain.mfa.confirmTotp(me, code(secret), ORIGIN);
    expect(recoveryCodes).toHaveLength(10);
    expect(await refusal(domain.identify(phone))).toBe("TOKEN_REVOKED");
    expect(await domain.identify(auth)).toMatchObject({ sessionId: laptop.session.id, aal: "aal2" });
  });

  it("a refresh token from before the second factor is refused as reuse once it is proved, and ends the session", async () => {
    const laptop = await domain.accounts.register({ email: uniqueEmail("mfa"), password: PASSWORD, device: "laptop" }, ORIGIN);
    const me = await domain.identify(laptop);
    const { secret } = await domain.mfa.enrollTotp(me, null, ORIGIN);
    const { auth } = await domain.mfa.confirmTotp(me, code(secret), ORIGIN);
    expect(await refusal(domain.sessions.refresh(laptop.refreshToken.token))).toBe("REFRESH_TOKEN_REUSED");
    expect(await refusal(domain.identify(auth))).toBe("TOKEN_REVOKED");
  });

  it("a password sign-in of a user with TOTP on waits, at aal1, for the code; the code completes it at aal2", async () => {
    const { email, secret } = await enrolled();
    const pending = await signIn(email);
    expect(pending.session.pending).toBe(true);
    const waiting = await domain.identify(pending);
    expect(waiting.aal).toBe("aal1");
    nextStep();
    const raised = await domain.mfa.verify(waiting, code(secret), ORIGIN);
    expect(raised.session.pending).not.toBe(true);
    expect(await domain.identify(raised)).toMatchObject({ sessionId: pending.session.id, aal: "aal2" });
  });

  it("refuses a TOTP code a second time, even within its step; the next step's code works", async () => {
    const { email, secret } = await enrolled();
    // The code that confirmed the enrolment is spent already.
    const first = await domain.identify(await signIn(email));
    expect(await refusal(domain.mfa.verify(first, code(secret), ORIGIN))).toBe("INVALID_MFA_CODE");
    nextStep();
    const used = code(secret);
    await domain.mfa.verify(first, used, ORIGIN);
    const second = await domain.identify(await signIn(email, "tablet"));
    expect(await refusal(domain.mfa.verify(second, used, ORIGIN))).toBe("INVALID_MFA_CODE");
    nextStep();
    await expect(domain.mfa.verify(second, code(secret), ORIGIN)).resolves.toMatchObject({ upgraded: true });
  });

  it("takes each recovery code once, in any spelling", async () => {
    const { email, recoveryCodes } = await enrolled();
    const [one, two] = recoveryCodes as [string, string];
    const first = await domain.identify(await signIn(email));
    await domain.mfa.verify(first, ` ${one.toLowerCase()} `, ORIGIN);
    const second = await domain.identify(await signIn(email, "tablet"));
    expect(await refusal(domain.mfa.verify(second, one, ORIGIN))).toBe("INVALID_MFA_CODE");
    await expect(domain.mfa.verify(second, two, ORIGIN)).resolves.toMatchObject({ upgraded: true });
  });

  it("new recovery codes replace the old ones entirely", async () => {
    const { email, secret, recoveryCodes, auth } = await enrolled();
    nextStep();
    const fresh = await domain.mfa.regenerateRecoveryCodes(await domain.identify(auth), code(secret), ORIGIN);
    const pending = await domain.identify(await signIn(email));
    expect(await refusal(domain.mfa.verify(pending, recoveryCodes[0]!, ORIGIN))).toBe("INVALID_MFA_CODE");
    await expect(domain.mfa.verify(pending, fresh[0]!, ORIGIN)).resolves.toMatchObject({ upgraded: true });
  });

  it("turning TOTP off needs a session that proved it, and ends the other sessions", async () => {
    const { email, secret, auth } = await enrolled();
    const phone = await signIn(email);
    nextStep();
    expect(await refusal(domain.mfa.disableTotp(await domain.identify(phone), code(secret), ORIGIN))).toBe("MFA_REQUIRED");
    await domain.mfa.disableTotp(await domain.identify(auth), code(secret), ORIGIN);
    expect(await refusal(domain.identify(phone))).toBe("TOKEN_REVOKED");
    expect((await domain.identify(auth)).sessionId).toBe(auth.session.id);
    expect((await signIn(email, "desk")).session.pending).not.toBe(true);
  });

  it("an admin's reset turns TOTP off and ends every session of the user", async () => {
    const { email, userId, auth } = await enrolled();
    expect(await domain.mfa.resetUser("an-admin", userId)).toBe(true);
    expect(await refusal(domain.identify(auth))).toBe("TOKEN_REVOKED");
    expect((await signIn(email)).session.pending).not.toBe(true);
    expect(await domain.mfa.resetUser("an-admin", userId)).toBe(false);
  });

  it("starting an enrolment needs a recent sign-in, or the password", async () => {
    const laptop = await domain.accounts.register({ email: uniqueEmail("mfa"), password: PASSWORD }, ORIGIN);
    domain.clock.advance((domain.config.reauthMaxAgeSeconds + 1) * 1000);
    const later = await domain.identify(await domain.sessions.refresh(laptop.refreshToken.token));
    expect(await refusal(domain.mfa.enrollTotp(later, null, ORIGIN))).toBe("REAUTHENTICATION_REQUIRED");
    expect(await refusal(domain.mfa.enrollTotp(later, "wrong password", ORIGIN))).toBe("INVALID_CREDENTIALS");
    await expect(domain.mfa.enrollTotp(later, PASSWORD, ORIGIN)).resolves.toMatchObject({ secret: expect.any(String) });
  });
});
