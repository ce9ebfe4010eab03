import { PASSWORD, uniqueEmail } from "../support/client";
import { composeDomain, ORIGIN, refusal, type Domain } from "../support/domain";
import { attest, type CreationOptions } from "../support/webauthn";


describe("passkeys, on the domain alone", () => {
  let domain: Domain;
  beforeEach(async () => {
    domain = await composeDomain();
  });
  afterEach(() => domain.close());

  const page = () => domain.config.passkeys!.origins[0]!;
  const signUp = () => domain.accounts.register({ email: uniqueEmail("passkeys"), password: PASSWORD, device: "laptop" }, ORIGIN);

  it("adds a passkey for a recently authenticated session, from an answer to its own challenge, once", async () => {
    const signedUp = await signUp();
    const me = await domain.identify(signedUp);
    const answer = attest((await domain.passkeys.registrationOptions(me)) as CreationOptions, page());
    const added = await domain.passkeys.register(me, answer, "my laptop", ORIGIN);
    expect(await domain.passkeys.list(me.userId)).toEqual([expect.objectContaining({ id: added.id, name: "my laptop" })]);
    expect(await refusal(domain.passkeys.register(me, answer, "again", ORIGIN))).toBe("PASSKEY_NOT_VERIFIED");
  });

  it("refuses an answer for another user's challenge, and one from a page that is not ours", async () => {
    const mine = await domain.identify(await signUp());
    const theirs = await domain.identify(await signUp());
    const forThem = attest((await domain.passkeys.registrationOptions(theirs)) as CreationOptions, page());
    expect(await refusal(domain.passkeys.register(mine, forThem, null, ORIGIN))).toBe("PASSKEY_NOT_VERIFIED");
    const elsewhere = attest((await domain.passkeys.registrationOptions(mine)) as CreationOptions, "https://evil.example");
    expect(await refusal(domain.passkeys.register(mine, elsewhere, null, ORIGIN))).toBe("PASSKEY_NOT_VERIFIED");
    expect(await domain.passkeys.list(mine.userId)).toEqual([]);
  });

  it("asks a session whose sign-in is no longer recent to reauthenticate before adding one", async () => {
    const signedUp = await signUp();
    domain.clock.advance((domain.config.reauthMaxAgeSeconds + 1) * 1000);
    const later = await domain.identify(await domain.sessions.refresh(signedUp.refreshToken.token));
    expect(await refusal(domain.passkeys.registrationOptions(later))).toBe("REAUTHENTICATION_REQUIRED");
    await domain.accounts.reauthenticate(later, PASSWORD, ORIGIN);
    const answer = attest((await domain.passkeys.registrationOptions(later)) as CreationOptions, page());
    await expect(domain.passkeys.register(later, answer, null, ORIGIN)).resolves.toMatchObject({ userId: later.userId });
  });

  it("removing a passkey that started no session ends none", async () => {
    const signedUp = await signUp();
    const me = await domain.identify(signedUp);
    const added = await domain.passkeys.register(me, attest((await domain.passkeys.registrationOptions(me)) as CreationOptions, page()), null, ORIGIN);
    await domain.passkeys.remove(me, added.id, ORIGIN);
    expect(await domain.passkeys.list(me.userId)).toEqual([]);
    expect((await domain.identify(signedUp)).sessionId).toBe(signedUp.session.id);
    expect(await refusal(domain.passkeys.remove(me, added.id, ORIGIN))).toBe("PASSKEY_NOT_FOUND");
  });
});
