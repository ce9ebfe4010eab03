import {
  LoginDocument,
  LogoutAllDocument,
  MeDocument,
  RefreshDocument,
  RevokeSessionDocument,
  RevokeUserSessionsDocument,
  SessionsDocument,
  SetUserDisabledDocument,
} from "../../schema/generated/graphql";
import { startApi, type TestApi } from "../support/api";
import { login, PASSWORD, register, send, uniqueEmail } from "../support/client";
import { startStore, type StoreBackend, type StoreMode } from "../support/stores";

describe.each<[StoreMode]>([["redis"], ["cluster"], ["memory"]])("sessions on the %s store", (storeKind) => {
  let backend: StoreBackend;
  let api: TestApi;
  let admin: Awaited<ReturnType<typeof login>>;
  const ADMIN_EMAIL = uniqueEmail("admin");

  beforeAll(async () => {
    backend = await startStore(storeKind);
    // Strict rotation (no grace window); the window has its own suite.
    api = await startApi(null, { ...backend.env, ADMIN_EMAIL, ADMIN_PASSWORD: PASSWORD, REFRESH_REUSE_GRACE_SECONDS: "0" });
    admin = await login(api.url, ADMIN_EMAIL);
  });
  afterAll(async () => {
    await api.stop();
    await backend.destroy();
  });

  const me = (token: string) => send(api.url, MeDocument, {}, { token });
  const refresh = (refreshToken: string) => send(api.url, RefreshDocument, { refreshToken });
  const expectRevoked = async (token: string) => {
    const result = await me(token);
    expect(result.status).toBe(401);
    expect(result.error).toMatchObject({ code: "UNAUTHENTICATED", reason: "TOKEN_REVOKED" });
  };

  describe("sessions", () => {
    it("lists the caller's live sessions with their device names and marks the current one", async () => {
      const laptop = await register(api.url, { device: "laptop" });
      const phone = await login(api.url, laptop.user.email, PASSWORD, "phone");
      const ended = await login(api.url, laptop.user.email, PASSWORD, "tablet");
      await send(api.url, LogoutAllDocument, {}, { token: (await register(api.url)).accessToken }); // someone else's
      await send(api.url, RevokeSessionDocument, { id: ended.sessionId }, { token: phone.accessToken });

      const result = await send(api.url, SessionsDocument, {}, { token: phone.accessToken });
      expect(result.data!.sessions.map((s) => [s.id, s.device, s.current])).toEqual([
        [phone.sessionId, "phone", true],
        [laptop.sessionId, "laptop", false],
      ]);
      const [session] = result.data!.sessions;
      expect(new Date(session!.expiresAt).getTime()).toBe(new Date(phone.refreshTokenExpiresAt).getTime());
    });

    it("moves lastUsedAt on refresh", async () => {
      const user = await register(api.url);
      const before = (await send(api.url, SessionsDocument, {}, { token: user.accessToken })).data!.sessions[0]!;
      await new Promise((r) => setTimeout(r, 20));
      const next = (await refresh(user.refreshToken!)).data!.refresh;
      const after = (await send(api.url, SessionsDocument, {}, { token: next.accessToken })).data!.sessions[0]!;
      expect(after.id).toBe(before.id);
      expect(after.createdAt).toBe(before.createdAt);
      expect(new Date(after.lastUsedAt).getTime()).toBeGreaterThan(new Date(before.lastUsedAt).getTime());
    });

    it("requires login", async () => {
      const result = await send(api.url, SessionsDocument, {});
      expect(result.error?.code).toBe("UNAUTHENTICATED");
    });
  });

  describe("revokeSession", () => {
    it("ends another device's session: its access token is refused at once and its refresh token dies", async () => {
      const laptop = await register(api.url);
      const phone = await login(api.url, laptop.user.email);
      const result = await send(api.url, RevokeSessionDocument, { id: phone.sessionId }, { token: laptop.accessToken });
      expect(result.data?.revokeSession).toBe(true);
      await expectRevoked(phone.accessToken);
      expect((await refresh(phone.refreshToken!)).error?.code).toBe("UNAUTHENTICATED");
      expect((await me(laptop.accessToken)).status).toBe(200);
    });

    it("refuses another user's session id, revealing nothing, and leaves that session alone", async () => {
      const victim = await register(api.url);
      const attacker = await register(api.url);
      const foreign = await send(api.url, RevokeSessionDocument, { id: victim.sessionId }, { token: attacker.accessToken });
      const unknown = await send(api.url, RevokeSessionDocument, { id: "no-such-session" }, { token: attacker.accessToken });
      expect(foreign.error).toEqual({ code: "NOT_FOUND", reason: "SESSION_NOT_FOUND", message: "No such session" });
      expect(unknown.error).toEqual(foreign.error);
      expect((await me(victim.accessToken)).status).toBe(200);
    });
  });

  describe("logoutAll", () => {
    it("refuses every access and refresh token of the caller at once and counts the sessions", async () => {
      const first = await register(api.url);
      const others = await Promise.all([1, 2, 3].map(() => login(api.url, first.user.email)));
      const refreshed = (await refresh(others[0]!.refreshToken!)).data!.refresh;
      const result = await send(api.url, LogoutAllDocument, {}, { token: first.accessToken });
      expect(result.data?.logoutAll).toBe(4);
      for (const session of [first, ...others, refreshed]) {
        await expectRevoked(session.accessToken);
        expect((await refresh(session.refreshToken!)).error?.code).toBe("UNAUTHENTICATED");
      }
    });

    it("lets the user log in again right away, within the same second", async () => {
      const user = await register(api.url);
      await send(api.url, LogoutAllDocument, {}, { token: user.accessToken });
      const again = await login(api.url, user.user.email);
      expect((await me(again.accessToken)).data?.me.id).toBe(user.user.id);
      expect((await refresh(again.refreshToken!)).data?.refresh.sessionId).toBe(again.sessionId);
    });

    it("leaves other users alone", async () => {
      const user = await register(api.url);
      const bystander = await register(api.url);
      await send(api.url, LogoutAllDocument, {}, { token: user.accessToken });
      expect((await me(bystander.accessToken)).status).toBe(200);
    });
  });

  describe("refresh-token reuse in strict mode (REFRESH_REUSE_GRACE_SECONDS=0)", () => {
    it("ends the whole session, newest tokens included, when a rotated-out refresh token comes back", async () => {
      const user = await register(api.url);
      const rotated = (await refresh(user.refreshToken!)).data!.refresh;
      const replay = await refresh(user.refreshToken!);
      expect(replay.error).toMatchObject({ code: "UNAUTHENTICATED", reason: "REFRESH_TOKEN_REUSED" });
      await expectRevoked(rotated.accessToken);
      expect((await refresh(rotated.refreshToken!)).error).toMatchObject({ code: "UNAUTHENTICATED", reason: "TOKEN_REVOKED" });
    });

    it("leaves the user's other sessions alone", async () => {
      const user = await register(api.url);
      const other = await login(api.url, user.user.email);
      await refresh(user.refreshToken!);
      await refresh(user.refreshToken!);
      expect((await me(other.accessToken)).status).toBe(200);
    });

    it("lets exactly one of many concurrent refreshes with one token win, and ends the session for the rest", async () => {
      const user = await register(api.url);
      const results = await Promise.all(Array.from({ length: 10 }, () => refresh(user.refreshToken!)));
      const winners = results.filter((r) => r.data?.refresh);
      expect(winners).toHaveLength(1);
      const reasons = new Set(results.filter((r) => !r.data?.refresh).map((r) => r.error?.reason));
      expect(reasons.has("REFRESH_TOKEN_REUSED")).toBe(true);
      expect([...reasons].every((reason) => reason === "REFRESH_TOKEN_REUSED" || reason === "TOKEN_REVOKED")).toBe(true);
      await expectRevoked(winners[0]!.data!.refresh.accessToken);
    });
  });

  describe("admin: setUserDisabled and revokeUserSessions", () => {
    it("disabling refuses the user's tokens at once and blocks login and refresh; enabling allows login again", async () => {
      const user = await register(api.url);
      const disabled = await send(api.url, SetUserDisabledDocument, { userId: user.user.id, disabled: true }, { token: admin.accessToken });
      expect(disabled.data?.setUserDisabled).toMatchObject({ id: user.user.id, disabled: true });
      await expectRevoked(user.accessToken);
      const loginResult = await send(api.url, LoginDocument, { input: { email: user.user.email, password: PASSWORD } });
      expect(loginResult.error).toMatchObject({ code: "UNAUTHENTICATED", reason: "ACCOUNT_DISABLED" });
      expect((await refresh(user.refreshToken!)).error?.code).toBe("UNAUTHENTICATED");

      await send(api.url, SetUserDisabledDocument, { userId: user.user.id, disabled: false }, { token: admin.accessToken });
      const again = await login(api.url, user.user.email);
      expect((await me(again.accessToken)).data?.me.disabled).toBe(false);
      await expectRevoked(user.accessToken);
    });

    it("does not tell a wrong password apart from a disabled account", async () => {
      const user = await register(api.url);
      await send(api.url, SetUserDisabledDocument, { userId: user.user.id, disabled: true }, { token: admin.accessToken });
      const wrong = await send(api.url, LoginDocument, { input: { email: user.user.email, password: "wrong password" } });
      expect(wrong.error?.reason).toBe("INVALID_CREDENTIALS");
    });

    it("revokeUserSessions logs another user out everywhere and counts the sessions", async () => {
      const user = await register(api.url);
      const second = await login(api.url, user.user.email);
      const result = await send(api.url, RevokeUserSessionsDocument, { userId: user.user.id }, { token: admin.accessToken });
      expect(result.data?.revokeUserSessions).toBe(2);
      await expectRevoked(user.accessToken);
      await expectRevoked(second.accessToken);
      expect((await me(admin.accessToken)).status).toBe(200);
    });

    it("refuses both to a USER with FORBIDDEN", async () => {
      const user = await register(api.url);
      const victim = await register(api.url);
      const disable = await send(api.url, SetUserDisabledDocument, { userId: victim.user.id, disabled: true }, { token: user.accessToken });
      const revoke = await send(api.url, RevokeUserSessionsDocument, { userId: victim.user.id }, { token: user.accessToken });
      expect(disable.error).toMatchObject({ code: "FORBIDDEN", reason: "MISSING_ROLE" });
      expect(revoke.error).toMatchObject({ code: "FORBIDDEN", reason: "MISSING_ROLE" });
      expect((await me(victim.accessToken)).status).toBe(200);
    });

    it("answers an unknown user id with NOT_FOUND", async () => {
      const disable = await send(api.url, SetUserDisabledDocument, { userId: "no-such-user", disabled: true }, { token: admin.accessToken });
      const revoke = await send(api.url, RevokeUserSessionsDocument, { userId: "no-such-user" }, { token: admin.accessToken });
      expect(disable.error).toMatchObject({ code: "NOT_FOUND", reason: "USER_NOT_FOUND" });
      expect(revoke.error).toMatchObject({ code: "NOT_FOUND", reason: "USER_NOT_FOUND" });
    });
  });
});
