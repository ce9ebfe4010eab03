import {
  ChangePasswordDocument,
  LoginDocument,
  MeDocument,
  SetUserDisabledDocument,
  SetUserRolesDocument,
  UsersDocument,
} from "../../schema/generated/graphql";
import { startApi, type TestApi } from "../support/api";
import { login, PASSWORD, register, send, uniqueEmail } from "../support/client";
import { startRedis, type TestRedis } from "../support/redis";

type Role = "USER" | "ADMIN";

describe.each([["redis"], ["memory"]])("roles and admin safety on the %s store", (storeKind) => {
  let redis: TestRedis | null = null;
  let api: TestApi;
  let root: Awaited<ReturnType<typeof login>>;
  const ROOT_EMAIL = uniqueEmail("root");

  beforeAll(async () => {
    if (storeKind === "redis") redis = await startRedis();
    api = await startApi(redis?.url ?? null, { ADMIN_EMAIL: ROOT_EMAIL, ADMIN_PASSWORD: PASSWORD });
    root = await login(api.url, ROOT_EMAIL);
  });
  afterAll(async () => {
    await api.stop();
    await redis?.destroy();
  });

  const setRoles = (token: string, userId: string, roles: Role[]) => send(api.url, SetUserRolesDocument, { userId, roles }, { token });
  const setDisabled = (token: string, userId: string, disabled: boolean) =>
    send(api.url, SetUserDisabledDocument, { userId, disabled }, { token });
  const users = (token: string) => send(api.url, UsersDocument, {}, { token });
  const expectLastAdmin = (result: { error?: { code?: unknown; reason?: unknown } }) =>
    expect(result.error).toMatchObject({ code: "BAD_USER_INPUT", reason: "LAST_ADMIN" });
  /** A fresh user made ADMIN by root. */
  const newAdmin = async () => {
    const user = await register(api.url);
    expect((await setRoles(root.accessToken, user.user.id, ["USER", "ADMIN"])).data?.setUserRoles.roles).toEqual(["USER", "ADMIN"]);
    return user;
  };

  describe("setUserRoles", () => {
    it("applies on the user's very next request, with the token they already hold", async () => {
      const user = await register(api.url);
      expect((await users(user.accessToken)).error).toMatchObject({ code: "FORBIDDEN", reason: "MISSING_ROLE" });
      const promoted = await setRoles(root.accessToken, user.user.id, ["ADMIN", "USER"]);
      expect(promoted.data?.setUserRoles).toMatchObject({ id: user.user.id, roles: ["USER", "ADMIN"] });
      expect((await users(user.accessToken)).data?.users.totalCount).toBeGreaterThan(1);
      expect((await send(api.url, MeDocument, {}, { token: user.accessToken })).data?.me.roles).toEqual(["USER", "ADMIN"]);

      await setRoles(root.accessToken, user.user.id, ["USER"]);
      expect((await users(user.accessToken)).error).toMatchObject({ code: "FORBIDDEN", reason: "MISSING_ROLE" });
    });

    it("refuses an empty list with BAD_USER_INPUT", async () => {
      const user = await register(api.url);
      const result = await setRoles(root.accessToken, user.user.id, []);
      expect(result.error).toMatchObject({ code: "BAD_USER_INPUT", reason: "INVALID_INPUT" });
      expect((await send(api.url, MeDocument, {}, { token: user.accessToken })).data?.me.roles).toEqual(["USER"]);
    });

    it("is for ADMIN only, and answers an unknown user with NOT_FOUND", async () => {
      const user = await register(api.url);
      expect((await setRoles(user.accessToken, user.user.id, ["ADMIN"])).error).toMatchObject({ code: "FORBIDDEN", reason: "MISSING_ROLE" });
      expect((await setRoles(root.accessToken, "no-such-user", ["USER"])).error).toMatchObject({ code: "NOT_FOUND", reason: "USER_NOT_FOUND" });
    });
  });

  describe("LAST_ADMIN", () => {
    it("refuses taking ADMIN from the last enabled admin", async () => {
      expectLastAdmin(await setRoles(root.accessToken, root.user.id, ["USER"]));
      expect((await users(root.accessToken)).status).toBe(200);
    });

    it("refuses disabling yourself, even with other admins left", async () => {
      const other = await newAdmin();
      expectLastAdmin(await setDisabled(root.accessToken, root.user.id, true));
      expectLastAdmin(await setDisabled(other.accessToken, other.user.id, true));
      expect((await users(root.accessToken)).status).toBe(200);
      await setRoles(root.accessToken, other.user.id, ["USER"]);
    });

    it("lets an admin hand over: another admin takes ADMIN away from you, then you cannot take it from them", async () => {
      const heir = await newAdmin();
      const heirSelf = await setRoles(heir.accessToken, heir.user.id, ["USER"]);
      expect(heirSelf.data?.setUserRoles.roles).toEqual(["USER"]);
      const again = await newAdmin();
      expect((await setRoles(again.accessToken, root.user.id, ["USER"])).data?.setUserRoles.roles).toEqual(["USER"]);
      expect((await users(root.accessToken)).error?.reason).toBe("MISSING_ROLE");
      expectLastAdmin(await setRoles(again.accessToken, again.user.id, ["USER"]));
      // Give root its role back for the tests that follow.
      await setRoles(again.accessToken, root.user.id, ["USER", "ADMIN"]);
      await setRoles(root.accessToken, again.user.id, ["USER"]);
    });

    it("does not count a disabled admin: with root disabled, the other admin is the last", async () => {
      const other = await newAdmin();
      await setDisabled(other.accessToken, root.user.id, true);
      expect((await send(api.url, LoginDocument, { input: { email: ROOT_EMAIL, password: PASSWORD } })).error?.reason).toBe("ACCOUNT_DISABLED");
      expectLastAdmin(await setRoles(other.accessToken, other.user.id, ["USER"]));
      await setDisabled(other.accessToken, root.user.id, false);
      root = await login(api.url, ROOT_EMAIL);
      expect((await setRoles(other.accessToken, other.user.id, ["USER"])).data?.setUserRoles.roles).toEqual(["USER"]);
    });

    it("never leaves no enabled admin when two admins demote or disable each other at once", async () => {
      for (const change of ["demote", "disable"] as const) {
        for (let round = 0; round < 3; round++) {
          const a = await newAdmin();
          const b = await newAdmin();
          await setRoles(b.accessToken, root.user.id, ["USER"]);
          const act = (actor: typeof a, target: typeof a) =>
            change === "demote" ? setRoles(actor.accessToken, target.user.id, ["USER"]) : setDisabled(actor.accessToken, target.user.id, true);
          const results = await Promise.all([act(a, b), act(b, a)]);
          const succeeded = results.filter((r) => r.error === undefined);
          expect(succeeded).toHaveLength(1);
          for (const refused of results.filter((r) => r.error)) {
            expect(["LAST_ADMIN", "MISSING_ROLE", "TOKEN_REVOKED"]).toContain(refused.error!.reason);
          }
          const survivor = results[0]!.error === undefined ? a : b;
          const all = (await users(survivor.accessToken)).data!.users.edges.map((edge) => edge.node);
          expect(all.filter((u) => u.roles.includes("ADMIN") && !u.disabled).map((u) => u.id)).toEqual([survivor.user.id]);
          // Root back as the only admin for the next round.
          await setRoles(survivor.accessToken, root.user.id, ["USER", "ADMIN"]);
          await setRoles(root.accessToken, survivor.user.id, ["USER"]);
        }
      }
    });
  });
});

describe("the recovery path: ADMIN_EMAIL and ADMIN_PASSWORD at start", () => {
  let redis: TestRedis;
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(() => redis.destroy());

  it("re-enables that admin and gives it ADMIN back, without touching its password or the other admins", async () => {
    const rootEmail = uniqueEmail("root");
    const env = { ADMIN_EMAIL: rootEmail, ADMIN_PASSWORD: PASSWORD };
    const first = await startApi(redis.url, env);
    let rescuer: Awaited<ReturnType<typeof register>>;
    try {
      const root = await login(first.url, rootEmail);
      rescuer = await register(first.url);
      await send(first.url, SetUserRolesDocument, { userId: rescuer.user.id, roles: ["USER", "ADMIN"] }, { token: root.accessToken });
      await send(first.url, SetUserRolesDocument, { userId: root.user.id, roles: ["USER"] }, { token: rescuer.accessToken });
      await send(first.url, SetUserDisabledDocument, { userId: root.user.id, disabled: true }, { token: rescuer.accessToken });
      expect((await send(first.url, LoginDocument, { input: { email: rootEmail, password: PASSWORD } })).error?.reason).toBe("ACCOUNT_DISABLED");
    } finally {
      await first.stop();
    }

    const second = await startApi(redis.url, env);
    try {
      const root = await login(second.url, rootEmail);
      expect(root.user).toMatchObject({ roles: ["USER", "ADMIN"], disabled: false });
      expect((await send(second.url, UsersDocument, {}, { token: root.accessToken })).status).toBe(200);
      expect((await send(second.url, MeDocument, {}, { token: rescuer!.accessToken })).data?.me.roles).toEqual(["USER", "ADMIN"]);
      // Counted again: the rescuer may now step down.
      const stepDown = await send(second.url, SetUserRolesDocument, { userId: rescuer!.user.id, roles: ["USER"] }, { token: rescuer!.accessToken });
      expect(stepDown.data?.setUserRoles.roles).toEqual(["USER"]);
    } finally {
      await second.stop();
    }
  });

  it("grants nothing to an account with that email but another password, and changes no password", async () => {
    const email = uniqueEmail("squatter");
    const setup = await startApi(redis.url);
    try {
      await register(setup.url, { email, password: "the squatter's password" });
    } finally {
      await setup.stop();
    }
    const api = await startApi(redis.url, { ADMIN_EMAIL: email, ADMIN_PASSWORD: PASSWORD });
    try {
      const squatter = await login(api.url, email, "the squatter's password");
      expect(squatter.user.roles).toEqual(["USER"]);
      expect((await send(api.url, LoginDocument, { input: { email, password: PASSWORD } })).error?.reason).toBe("INVALID_CREDENTIALS");
    } finally {
      await api.stop();
    }
  });

  it("keeps the password an admin changed: an old ADMIN_PASSWORD restores nothing and logs in nobody", async () => {
    const email = uniqueEmail("root");
    const env = { ADMIN_EMAIL: email, ADMIN_PASSWORD: PASSWORD };
    const first = await startApi(redis.url, env);
    try {
      const root = await login(first.url, email);
      await send(first.url, ChangePasswordDocument, { currentPassword: PASSWORD, newPassword: "changed since then" }, { token: root.accessToken });
    } finally {
      await first.stop();
    }
    const second = await startApi(redis.url, env);
    try {
      expect((await send(second.url, LoginDocument, { input: { email, password: PASSWORD } })).error?.reason).toBe("INVALID_CREDENTIALS");
      expect((await login(second.url, email, "changed since then")).user.roles).toEqual(["USER", "ADMIN"]);
    } finally {
      await second.stop();
    }
  });
});
