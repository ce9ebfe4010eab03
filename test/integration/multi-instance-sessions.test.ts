import {
  ChangePasswordDocument,
  LoginDocument,
  LogoutOthersDocument,
  MeDocument,
  RefreshDocument,
  SetUserDisabledDocument,
  SetUserRolesDocument,
  UsersDocument,
} from "../../schema/generated/graphql";
import { spawnApi, type ApiProcess } from "../support/api";
import { login, PASSWORD, register, send, uniqueEmail } from "../support/client";
import { startRedis, type TestRedis } from "../support/redis";

/** Two API processes on one Redis, with the default grace window (REFRESH_REUSE_GRACE_SECONDS=10). */
let redis: TestRedis;
let a: ApiProcess;
let b: ApiProcess;
const ROOT_EMAIL = uniqueEmail("root");

beforeAll(async () => {
  redis = await startRedis();
  const env = { ADMIN_EMAIL: ROOT_EMAIL, ADMIN_PASSWORD: PASSWORD, LOG_LEVEL: "warn" };
  [a, b] = await Promise.all([spawnApi(redis.url, env), spawnApi(redis.url, env)]);
});
afterAll(async () => {
  await Promise.all([a?.stop(), b?.stop()]);
  await redis.destroy();
});

const meOn = (api: ApiProcess, token: string) => send(api.url, MeDocument, {}, { token });
const expectEndedOn = async (api: ApiProcess, session: { accessToken: string; refreshToken?: string | null }) => {
  expect((await meOn(api, session.accessToken)).error).toMatchObject({ code: "UNAUTHENTICATED", reason: "TOKEN_REVOKED" });
  expect((await send(api.url, RefreshDocument, { refreshToken: session.refreshToken! })).error?.reason).toBe("TOKEN_REVOKED");
};

describe("sessions across two instances", () => {
  it("gives 8 concurrent refreshes of one token across both instances the same new refresh token", async () => {
    for (let round = 0; round < 3; round++) {
      const user = await register(a.url);
      const results = await Promise.all(
        Array.from({ length: 8 }, (_, i) => send(i % 2 ? a.url : b.url, RefreshDocument, { refreshToken: user.refreshToken! })),
      );
      expect(results.map((r) => r.error)).toEqual(Array(8).fill(undefined));
      const tokens = new Set(results.map((r) => r.data!.refresh.refreshToken));
      expect(tokens.size).toBe(1);
      for (const [i, result] of results.entries()) expect((await meOn(i % 2 ? b : a, result.data!.refresh.accessToken)).status).toBe(200);
      expect((await send(b.url, RefreshDocument, { refreshToken: [...tokens][0]! })).data?.refresh.sessionId).toBe(user.sessionId);
    }
  });

  it("logoutOthers through one instance: the other devices' tokens are refused by the other at once", async () => {
    const laptop = await register(a.url);
    const phone = await login(b.url, laptop.user.email);
    expect((await send(a.url, LogoutOthersDocument, {}, { token: laptop.accessToken })).data?.logoutOthers).toBe(1);
    await expectEndedOn(b, phone);
    expect((await meOn(b, laptop.accessToken)).status).toBe(200);
  });

  it("changePassword through one instance: other devices refused by the other, old password refused, new one accepted", async () => {
    const laptop = await register(b.url);
    const phone = await login(a.url, laptop.user.email);
    const changed = await send(b.url, ChangePasswordDocument, { currentPassword: PASSWORD, newPassword: "another good passphrase" }, { token: laptop.accessToken });
    expect(changed.data?.changePassword).toBe(true);
    await expectEndedOn(a, phone);
    expect((await meOn(a, laptop.accessToken)).status).toBe(200);
    expect((await send(a.url, LoginDocument, { input: { email: laptop.user.email, password: PASSWORD } })).error?.reason).toBe("INVALID_CREDENTIALS");
    expect((await login(a.url, laptop.user.email, "another good passphrase")).user.id).toBe(laptop.user.id);
  });

  it("setUserRoles through one instance applies on the user's next request through the other", async () => {
    const root = await login(a.url, ROOT_EMAIL);
    const user = await register(b.url);
    expect((await send(b.url, UsersDocument, {}, { token: user.accessToken })).error?.reason).toBe("MISSING_ROLE");
    await send(a.url, SetUserRolesDocument, { userId: user.user.id, roles: ["USER", "ADMIN"] }, { token: root.accessToken });
    expect((await send(b.url, UsersDocument, {}, { token: user.accessToken })).status).toBe(200);
    await send(a.url, SetUserRolesDocument, { userId: user.user.id, roles: ["USER"] }, { token: root.accessToken });
    expect((await send(b.url, UsersDocument, {}, { token: user.accessToken })).error?.reason).toBe("MISSING_ROLE");
  });

  it("never leaves no enabled admin when two admins on two instances disable each other at once", async () => {
    const root = await login(a.url, ROOT_EMAIL);
    for (let round = 0; round < 3; round++) {
      const [x, y] = [await register(a.url), await register(b.url)];
      for (const u of [x, y]) await send(a.url, SetUserRolesDocument, { userId: u.user.id, roles: ["USER", "ADMIN"] }, { token: root.accessToken });
      await send(b.url, SetUserRolesDocument, { userId: root.user.id, roles: ["USER"] }, { token: x.accessToken });
      const results = await Promise.all([
        send(a.url, SetUserDisabledDocument, { userId: y.user.id, disabled: true }, { token: x.accessToken }),
        send(b.url, SetUserDisabledDocument, { userId: x.user.id, disabled: true }, { token: y.accessToken }),
      ]);
      expect(results.filter((r) => r.error === undefined)).toHaveLength(1);
      const survivor = results[0]!.error === undefined ? x : y;
      const everyone = (await send(b.url, UsersDocument, { first: 100 }, { token: survivor.accessToken })).data!.users.edges.map((edge) => edge.node);
      expect(everyone.filter((u) => u.roles.includes("ADMIN") && !u.disabled).map((u) => u.id)).toEqual([survivor.user.id]);
      await send(a.url, SetUserRolesDocument, { userId: root.user.id, roles: ["USER", "ADMIN"] }, { token: survivor.accessToken });
      await send(a.url, SetUserRolesDocument, { userId: survivor.user.id, roles: ["USER"] }, { token: root.accessToken });
    }
  });
});
