import {
  LogoutAllDocument,
  LogoutDocument,
  MeDocument,
  RefreshDocument,
  RevokeSessionDocument,
  SetUserDisabledDocument,
} from "../../schema/generated/graphql";
import { spawnApi, type ApiProcess } from "../support/api";
import { login, PASSWORD, register, send, uniqueEmail } from "../support/client";
import { startStore, type StoreBackend, type StoreMode } from "../support/stores";

/** Two API processes on one Redis (or one Cluster): what one instance revokes, the other refuses on the next request. */
describe.each<[StoreMode]>([["redis"], ["cluster"]])("two instances on one %s", (mode) => {
  let backend: StoreBackend;
  let a: ApiProcess;
  let b: ApiProcess;
  const ADMIN_EMAIL = uniqueEmail("admin");

  beforeAll(async () => {
    backend = await startStore(mode);
    // Strict rotation, as before the grace window; multi-instance-sessions.test.ts covers the window.
    const env = { ...backend.env, ADMIN_EMAIL, ADMIN_PASSWORD: PASSWORD, LOG_LEVEL: "warn", REFRESH_REUSE_GRACE_SECONDS: "0" };
    [a, b] = await Promise.all([spawnApi(null, env), spawnApi(null, env)]);
  });
  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    await backend?.destroy();
  });

  const meOn = (api: ApiProcess, token: string) => send(api.url, MeDocument, {}, { token });
  const expectRevokedOn = async (api: ApiProcess, token: string) => {
    const result = await meOn(api, token);
    expect(result.status).toBe(401);
    expect(result.error?.reason).toBe("TOKEN_REVOKED");
  };

  describe("sharing one store", () => {
    it("share users: register on one, log in on the other", async () => {
      const user = await register(a.url);
      const again = await login(b.url, user.user.email);
      expect(again.user.id).toBe(user.user.id);
      expect((await meOn(a, again.accessToken)).data?.me.id).toBe(user.user.id);
    });

    it("a logout through one is enforced by the other on the next request", async () => {
      const user = await register(a.url);
      expect((await meOn(b, user.accessToken)).status).toBe(200);
      await send(a.url, LogoutDocument, {}, { token: user.accessToken });
      await expectRevokedOn(b, user.accessToken);
    });

    it("revokeSession through one is enforced by the other", async () => {
      const laptop = await register(a.url);
      const phone = await login(b.url, laptop.user.email);
      await send(a.url, RevokeSessionDocument, { id: phone.sessionId }, { token: laptop.accessToken });
      await expectRevokedOn(b, phone.accessToken);
      expect((await send(b.url, RefreshDocument, { refreshToken: phone.refreshToken! })).error?.code).toBe("UNAUTHENTICATED");
    });

    it("logoutAll through one is enforced by the other", async () => {
      const first = await register(a.url);
      const second = await login(b.url, first.user.email);
      await send(b.url, LogoutAllDocument, {}, { token: second.accessToken });
      await expectRevokedOn(a, first.accessToken);
      await expectRevokedOn(a, second.accessToken);
    });

    it("disabling a user through one is enforced by the other", async () => {
      const admin = await login(a.url, ADMIN_EMAIL);
      const user = await register(b.url);
      await send(a.url, SetUserDisabledDocument, { userId: user.user.id, disabled: true }, { token: admin.accessToken });
      await expectRevokedOn(b, user.accessToken);
    });

    it("in strict mode, lets exactly one of many concurrent refreshes with one token win, across both instances", async () => {
      for (let round = 0; round < 5; round++) {
        const user = await register(a.url);
        const results = await Promise.all(
          Array.from({ length: 12 }, (_, i) => send(i % 2 ? a.url : b.url, RefreshDocument, { refreshToken: user.refreshToken! })),
        );
        const winners = results.filter((r) => r.data?.refresh);
        expect(winners).toHaveLength(1);
        expect(results.filter((r) => r.error?.reason === "REFRESH_TOKEN_REUSED").length).toBeGreaterThan(0);
        expect(results.every((r) => r.data?.refresh || ["REFRESH_TOKEN_REUSED", "TOKEN_REVOKED"].includes(r.error?.reason as string))).toBe(true);
        await expectRevokedOn(a, winners[0]!.data!.refresh.accessToken);
      }
    });
  });
});
