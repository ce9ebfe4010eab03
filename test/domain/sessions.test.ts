import { composeDomain, ORIGIN, refusal, type Domain } from "../support/domain";
import { PASSWORD, uniqueEmail } from "../support/client";


describe("sessions, on the domain alone", () => {
  let domain: Domain;
  beforeEach(async () => {
    domain = await composeDomain({ REFRESH_REUSE_GRACE_SECONDS: "0", MAX_SESSIONS_PER_USER: "3" });
  });
  afterEach(() => domain.close());

  const signUp = (email = uniqueEmail("sessions")) => domain.accounts.register({ email, password: PASSWORD, device: "laptop" }, ORIGIN);
  const signIn = (email: string, device = "phone") => domain.accounts.login({ email, password: PASSWORD, device }, ORIGIN);

  it("rotates the refresh token on each refresh, keeping the session", async () => {
    const first = await signUp();
    const second = await domain.sessions.refresh(first.refreshToken.token);
    expect(second.session.id).toBe(first.session.id);
    expect(second.refreshToken.token).not.toBe(first.refreshToken.token);
    const third = await domain.sessions.refresh(second.refreshToken.token);
    expect(third.session.id).toBe(first.session.id);
  });

  it("takes a rotated-out refresh token as theft: the whole session ends, its newest tokens too", async () => {
    const first = await signUp();
    const rotated = await domain.sessions.refresh(first.refreshToken.token);
    expect(await refusal(domain.sessions.refresh(first.refreshToken.token))).toBe("REFRESH_TOKEN_REUSED");
    expect(await refusal(domain.sessions.refresh(rotated.refreshToken.token))).toBe("TOKEN_REVOKED");
    expect(await refusal(domain.identify(rotated))).toBe("TOKEN_REVOKED");
    expect(domain.revocations.at(-1)).toMatchObject({ kind: "refresh_reuse", userId: first.user.id, sessionId: first.session.id });
  });

  it("ends only the reused session: the same user's other sessions go on", async () => {
    const laptop = await signUp();
    const phone = await signIn(laptop.user.email);
    await domain.sessions.refresh(laptop.refreshToken.token);
    await refusal(domain.sessions.refresh(laptop.refreshToken.token));
    expect((await domain.identify(phone)).sessionId).toBe(phone.session.id);
    expect((await domain.sessions.refresh(phone.refreshToken.token)).session.id).toBe(phone.session.id);
  });

  it("answers the token the last rotation replaced with that rotation's outcome inside the grace window, and as reuse after it", async () => {
    const graceful = await composeDomain({ REFRESH_REUSE_GRACE_SECONDS: "5" });
    try {
      const first = await graceful.accounts.register({ email: uniqueEmail("grace"), password: PASSWORD }, ORIGIN);
      const rotated = await graceful.sessions.refresh(first.refreshToken.token);
      const again = await graceful.sessions.refresh(first.refreshToken.token);
      expect(again.refreshToken.token).toBe(rotated.refreshToken.token);
      graceful.clock.advance(6000);
      expect(await refusal(graceful.sessions.refresh(first.refreshToken.token))).toBe("REFRESH_TOKEN_REUSED");
      expect(await refusal(graceful.sessions.refresh(rotated.refreshToken.token))).toBe("TOKEN_REVOKED");
    } finally {
      graceful.close();
    }
  });

  it("logout ends the caller's session alone", async () => {
    const laptop = await signUp();
    const phone = await signIn(laptop.user.email);
    await domain.sessions.logout(await domain.identify(laptop));
    expect(await refusal(domain.identify(laptop))).toBe("TOKEN_REVOKED");
    expect(await refusal(domain.sessions.refresh(laptop.refreshToken.token))).toBe("TOKEN_REVOKED");
    expect((await domain.identify(phone)).userId).toBe(laptop.user.id);
    expect(domain.revocations.at(-1)).toMatchObject({ kind: "logout", sessionId: laptop.session.id, device: "laptop" });
  });

  it("logout everywhere ends every session of the user with one event, and no one else's", async () => {
    const laptop = await signUp();
    const phone = await signIn(laptop.user.email);
    const stranger = await signUp();
    expect(await domain.sessions.endAll(laptop.user.id)).toBe(2);
    for (const session of [laptop, phone]) {
      expect(await refusal(domain.identify(session))).toBe("TOKEN_REVOKED");
      expect(await refusal(domain.sessions.refresh(session.refreshToken.token))).toBe("TOKEN_REVOKED");
    }
    expect(await domain.sessions.list(laptop.user.id)).toEqual([]);
    expect((await domain.identify(stranger)).userId).toBe(stranger.user.id);
    expect(domain.revocations.filter((event) => event.userId === laptop.user.id)).toEqual([expect.objectContaining({ kind: "all_sessions" })]);
  });

  it("starts a new session normally after logout everywhere", async () => {
    const laptop = await signUp();
    await domain.sessions.endAll(laptop.user.id);
    domain.clock.advance(1000);
    const again = await signIn(laptop.user.email);
    expect((await domain.identify(again)).sessionId).toBe(again.session.id);
  });

  it("ending the others keeps the caller's session, and announces nothing when there were none", async () => {
    const laptop = await signUp();
    const phone = await signIn(laptop.user.email);
    const me = await domain.identify(laptop);
    expect(await domain.sessions.endOthers(me)).toBe(1);
    expect(await refusal(domain.identify(phone))).toBe("TOKEN_REVOKED");
    expect((await domain.identify(laptop)).sessionId).toBe(laptop.session.id);
    const announced = domain.revocations.length;
    expect(await domain.sessions.endOthers(me)).toBe(0);
    expect(domain.revocations).toHaveLength(announced);
  });

  it("one session past MAX_SESSIONS_PER_USER ends the oldest", async () => {
    const oldest = await signUp();
    domain.clock.advance(1000);
    const middle = await signIn(oldest.user.email, "second");
    domain.clock.advance(1000);
    await signIn(oldest.user.email, "third");
    domain.clock.advance(1000);
    const newest = await signIn(oldest.user.email, "fourth");
    expect(await refusal(domain.identify(oldest))).toBe("TOKEN_REVOKED");
    expect((await domain.identify(middle)).sessionId).toBe(middle.session.id);
    expect((await domain.sessions.list(oldest.user.id)).map((session) => session.id)).not.toContain(oldest.session.id);
    expect((await domain.sessions.list(oldest.user.id))[0]!.id).toBe(newest.session.id);
    expect(domain.revocations.at(-1)).toMatchObject({ kind: "session_cap", sessionId: oldest.session.id });
  });

  it("revoking a session of another user finds nothing, and ends nothing", async () => {
    const mine = await signUp();
    const theirs = await signUp();
    expect(await refusal(domain.sessions.revoke(await domain.identify(mine), theirs.session.id))).toBe("SESSION_NOT_FOUND");
    expect((await domain.identify(theirs)).sessionId).toBe(theirs.session.id);
  });

  it("expires an access token after ACCESS_TOKEN_TTL, while its refresh token still works", async () => {
    const signedUp = await signUp();
    domain.clock.advance((domain.config.accessTokenTtl + 60) * 1000);
    expect(await refusal(domain.identify(signedUp))).toBe("TOKEN_EXPIRED");
    const refreshed = await domain.sessions.refresh(signedUp.refreshToken.token);
    expect((await domain.identify(refreshed)).sessionId).toBe(signedUp.session.id);
  });

  it("counts a sign-in as recent for REAUTH_MAX_AGE_SECONDS; reauthenticating with the password makes it recent again", async () => {
    const signedUp = await signUp();
    const me = await domain.identify(signedUp);
    await expect(domain.sessions.requireRecentAuthentication(me)).resolves.toMatchObject({ id: signedUp.session.id });
    domain.clock.advance((domain.config.reauthMaxAgeSeconds + 1) * 1000);
    const later = await domain.identify(await domain.sessions.refresh(signedUp.refreshToken.token));
    expect(await refusal(domain.sessions.requireRecentAuthentication(later))).toBe("REAUTHENTICATION_REQUIRED");
    expect(await refusal(domain.accounts.reauthenticate(later, "not the password", ORIGIN))).toBe("INVALID_CREDENTIALS");
    expect(await refusal(domain.sessions.requireRecentAuthentication(later))).toBe("REAUTHENTICATION_REQUIRED");
    await domain.accounts.reauthenticate(later, PASSWORD, ORIGIN);
    await expect(domain.sessions.requireRecentAuthentication(later)).resolves.toMatchObject({ id: signedUp.session.id });
  });
});
