import {
  ChangePasswordDocument,
  LoginDocument,
  LogoutOthersDocument,
  MeDocument,
  RefreshDocument,
  SessionsDocument,
} from "../../schema/generated/graphql";
import { login, PASSWORD, post, register, send } from "../support/client";
import { apiOnStore, type StoreMode } from "../support/stores";

const NEW_PASSWORD = "a brand new passphrase";

describe.each<[StoreMode]>([["redis"], ["memory"]])("sign-out scopes and password change on the %s store", (storeKind) => {
  const apiOf = apiOnStore(storeKind);

  const me = (token: string) => send(apiOf().url, MeDocument, {}, { token });
  const refresh = (refreshToken: string) => send(apiOf().url, RefreshDocument, { refreshToken });
  const changePassword = (token: string, currentPassword: string, newPassword: string) =>
    send(apiOf().url, ChangePasswordDocument, { currentPassword, newPassword }, { token });
  const expectEnded = async (session: { accessToken: string; refreshToken?: string | null }) => {
    expect((await me(session.accessToken)).error).toMatchObject({ code: "UNAUTHENTICATED", reason: "TOKEN_REVOKED" });
    expect((await refresh(session.refreshToken!)).error).toMatchObject({ code: "UNAUTHENTICATED", reason: "TOKEN_REVOKED" });
  };
  /** The current session still works: its access token, and its refresh token rotates. */
  const expectWorking = async (session: { accessToken: string; refreshToken?: string | null; sessionId: string }) => {
    expect((await me(session.accessToken)).status).toBe(200);
    expect((await refresh(session.refreshToken!)).data?.refresh.sessionId).toBe(session.sessionId);
  };

  describe("logoutOthers", () => {
    it("ends every other session of the caller at once, keeps this one, and counts them", async () => {
      const laptop = await register(apiOf().url, { device: "laptop" });
      const phone = await login(apiOf().url, laptop.user.email, PASSWORD, "phone");
      const tablet = await login(apiOf().url, laptop.user.email, PASSWORD, "tablet");
      const result = await send(apiOf().url, LogoutOthersDocument, {}, { token: laptop.accessToken });
      expect(result.data?.logoutOthers).toBe(2);
      await expectEnded(phone);
      await expectEnded(tablet);
      const sessions = await send(apiOf().url, SessionsDocument, {}, { token: laptop.accessToken });
      expect(sessions.data!.sessions.map((s) => [s.id, s.current])).toEqual([[laptop.sessionId, true]]);
      await expectWorking(laptop);
    });

    it("answers 0 when there is nobody else, and leaves other users alone", async () => {
      const user = await register(apiOf().url);
      const bystander = await register(apiOf().url);
      expect((await send(apiOf().url, LogoutOthersDocument, {}, { token: user.accessToken })).data?.logoutOthers).toBe(0);
      expect((await me(bystander.accessToken)).status).toBe(200);
      expect((await me(user.accessToken)).status).toBe(200);
    });

    it("requires login", async () => {
      expect((await send(apiOf().url, LogoutOthersDocument, {})).error).toMatchObject({ code: "UNAUTHENTICATED", reason: "AUTHENTICATION_REQUIRED" });
    });
  });

  describe("changePassword", () => {
    it("stores the new password, refuses the old one, ends the other devices at once and keeps this one", async () => {
      const laptop = await register(apiOf().url);
      const phone = await login(apiOf().url, laptop.user.email);
      const result = await changePassword(laptop.accessToken, PASSWORD, NEW_PASSWORD);
      expect(result.data?.changePassword).toBe(true);
      await expectEnded(phone);
      await expectWorking(laptop);
      const old = await send(apiOf().url, LoginDocument, { input: { email: laptop.user.email, password: PASSWORD } });
      expect(old.error).toMatchObject({ code: "UNAUTHENTICATED", reason: "INVALID_CREDENTIALS" });
      expect((await login(apiOf().url, laptop.user.email, NEW_PASSWORD)).user.id).toBe(laptop.user.id);
    });

    it("leaves no session to a login with the old password that was in flight during the change", async () => {
      const laptop = await register(apiOf().url);
      let changed = false;
      const oldPasswordSessions: string[] = [];
      // Paced, and at most 10 each: 4 × 10 sessions stay under MAX_SESSIONS_PER_USER (50), whose cap
      // would otherwise end the laptop's own session when test hashing makes each login take ~1 ms.
      const keepLoggingIn = async () => {
        for (let attempts = 0; !changed && attempts < 10; attempts++) {
          const attempt = await send(apiOf().url, LoginDocument, { input: { email: laptop.user.email, password: PASSWORD } });
          if (attempt.data) oldPasswordSessions.push(attempt.data.login.accessToken);
          await new Promise((resolve) => setTimeout(resolve, 30 + Math.random() * 20));
        }
      };
      const attackers = Array.from({ length: 4 }, keepLoggingIn);
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect((await changePassword(laptop.accessToken, PASSWORD, NEW_PASSWORD)).data?.changePassword).toBe(true);
      await new Promise((resolve) => setTimeout(resolve, 200));
      changed = true;
      await Promise.all(attackers);

      const sessions = await send(apiOf().url, SessionsDocument, {}, { token: laptop.accessToken });
      expect(sessions.data!.sessions.map((s) => s.id)).toEqual([laptop.sessionId]);
      for (const token of oldPasswordSessions) expect((await me(token)).error?.reason).toBe("TOKEN_REVOKED");
    });

    it("refuses a wrong current password like a wrong login, and changes nothing", async () => {
      const laptop = await register(apiOf().url);
      const phone = await login(apiOf().url, laptop.user.email);
      const result = await changePassword(laptop.accessToken, "not the password", NEW_PASSWORD);
      expect(result.error).toEqual({ code: "UNAUTHENTICATED", reason: "INVALID_CREDENTIALS", message: "Invalid email or password" });
      expect(result.status).toBe(200);
      expect((await me(phone.accessToken)).status).toBe(200);
      expect((await login(apiOf().url, laptop.user.email, PASSWORD)).user.id).toBe(laptop.user.id);
    });

    it("holds the new password to register's rules, naming the field and never echoing it", async () => {
      const user = await register(apiOf().url);
      for (const newPassword of ["short", "x".repeat(129)]) {
        const result = await changePassword(user.accessToken, PASSWORD, newPassword);
        expect(result.error).toMatchObject({ code: "BAD_USER_INPUT", reason: "INVALID_INPUT" });
        expect(result.error!.message).toContain("newPassword");
        expect(JSON.stringify(result.errors)).not.toContain(newPassword);
      }
      expect((await login(apiOf().url, user.user.email, PASSWORD)).user.id).toBe(user.user.id);
    });

    it("requires login", async () => {
      const result = await send(apiOf().url, ChangePasswordDocument, { currentPassword: PASSWORD, newPassword: NEW_PASSWORD });
      expect(result.error).toMatchObject({ code: "UNAUTHENTICATED", reason: "AUTHENTICATION_REQUIRED" });
    });

    it("counts as a credential mutation: it cannot be aliased to run argon2 many times", async () => {
      const user = await register(apiOf().url);
      const query = `mutation { a: changePassword(currentPassword: "x${PASSWORD}", newPassword: "${NEW_PASSWORD}") b: changePassword(currentPassword: "y${PASSWORD}", newPassword: "${NEW_PASSWORD}") }`;
      const result = await post(apiOf().url, { query }, { token: user.accessToken });
      expect(result.status).toBe(400);
      expect(result.error?.code).toBe("GRAPHQL_VALIDATION_FAILED");
    });
  });
});
