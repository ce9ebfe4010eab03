import {
  LoginDocument,
  LogoutAllDocument,
  LogoutDocument,
  MeDocument,
  RefreshDocument,
  RefreshWithCookieDocument,
  RevokeSessionDocument,
} from "../../schema/generated/graphql";
import { startApi, type TestApi } from "../support/api";
import { login, PASSWORD, register, send } from "../support/client";
import { startRedis, type TestRedis } from "../support/redis";

/** Long enough that nothing in a test outlives it on a loaded machine. */
const WINDOW_SECONDS = 30;
/** For the replay that comes after the window. */
const SHORT_WINDOW_SECONDS = 1;

const jtiOf = (token: string) => JSON.parse(Buffer.from(token.split(".")[1]!, "base64url").toString()).jti as string;

describe.each([["redis"], ["memory"]])("refresh grace window on the %s store", (storeKind) => {
  let redis: TestRedis | null = null;
  let api: TestApi;
  let shortWindow: TestApi;

  beforeAll(async () => {
    if (storeKind === "redis") redis = await startRedis();
    api = await startApi(redis?.url ?? null, { REFRESH_REUSE_GRACE_SECONDS: String(WINDOW_SECONDS) });
    shortWindow = await startApi(redis?.url ?? null, { REFRESH_REUSE_GRACE_SECONDS: String(SHORT_WINDOW_SECONDS) });
  });
  afterAll(async () => {
    await api.stop();
    await shortWindow.stop();
    await redis?.destroy();
  });

  const me = (token: string, on = api) => send(on.url, MeDocument, {}, { token });
  const refresh = (refreshToken: string, on = api) => send(on.url, RefreshDocument, { refreshToken });
  const refreshed = async (refreshToken: string, on = api) => {
    const result = await refresh(refreshToken, on);
    if (!result.data?.refresh) throw new Error(`refresh failed: ${JSON.stringify(result.errors)}`);
    return result.data.refresh;
  };
  const expectSessionEnded = async (tokens: { accessToken: string; refreshToken?: string | null }) => {
    expect((await me(tokens.accessToken)).error).toMatchObject({ code: "UNAUTHENTICATED", reason: "TOKEN_REVOKED" });
    if (tokens.refreshToken) {
      expect((await refresh(tokens.refreshToken)).error).toMatchObject({ code: "UNAUTHENTICATED", reason: "TOKEN_REVOKED" });
    }
  };

  it("gives a replay inside the window the same new refresh token, byte for byte, and a working access token for the same session", async () => {
    const user = await register(api.url);
    const first = await refreshed(user.refreshToken!);
    const replay = await refreshed(user.refreshToken!);
    expect(replay.refreshToken).toBe(first.refreshToken);
    expect(replay.refreshTokenExpiresAt).toBe(first.refreshTokenExpiresAt);
    expect(replay.sessionId).toBe(user.sessionId);
    expect((await me(replay.accessToken)).data?.me.id).toBe(user.user.id);
    expect((await me(first.accessToken)).data?.me.id).toBe(user.user.id);

    const next = await refreshed(first.refreshToken!);
    expect(next.refreshToken).not.toBe(first.refreshToken);
    expect(next.sessionId).toBe(user.sessionId);
  });

  it("lets 8 concurrent refreshes of one token all succeed with the same new refresh token", async () => {
    const user = await register(api.url);
    const results = await Promise.all(Array.from({ length: 8 }, () => refresh(user.refreshToken!)));
    expect(results.map((r) => r.error)).toEqual(Array(8).fill(undefined));
    const tokens = new Set(results.map((r) => r.data!.refresh.refreshToken));
    expect(tokens.size).toBe(1);
    for (const result of results) expect((await me(result.data!.refresh.accessToken)).status).toBe(200);
    expect((await refreshed([...tokens][0]!)).sessionId).toBe(user.sessionId);
  });

  it("ends the session on a replay after the window", async () => {
    const user = await register(shortWindow.url);
    const first = await refreshed(user.refreshToken!, shortWindow);
    await new Promise((r) => setTimeout(r, SHORT_WINDOW_SECONDS * 1000 + 300));
    const late = await refresh(user.refreshToken!, shortWindow);
    expect(late.error).toMatchObject({ code: "UNAUTHENTICATED", reason: "REFRESH_TOKEN_REUSED" });
    await expectSessionEnded(first);
  });

  it("ends the session on a replay of the token two rotations back, even inside the window", async () => {
    const user = await register(api.url);
    const first = await refreshed(user.refreshToken!);
    const second = await refreshed(first.refreshToken!);
    const grandparent = await refresh(user.refreshToken!);
    expect(grandparent.error).toMatchObject({ code: "UNAUTHENTICATED", reason: "REFRESH_TOKEN_REUSED" });
    await expectSessionEnded(second);
  });

  it("does not revive a session ended inside the window: logout, revokeSession, logoutAll", async () => {
    const endings = {
      logout: (tokens: { accessToken: string }) => send(api.url, LogoutDocument, {}, { token: tokens.accessToken }),
      revokeSession: (tokens: { accessToken: string; sessionId: string }) =>
        send(api.url, RevokeSessionDocument, { id: tokens.sessionId }, { token: tokens.accessToken }),
      logoutAll: (tokens: { accessToken: string }) => send(api.url, LogoutAllDocument, {}, { token: tokens.accessToken }),
    };
    for (const [name, end] of Object.entries(endings)) {
      const user = await register(api.url);
      const first = await refreshed(user.refreshToken!);
      await end(first);
      const replay = await refresh(user.refreshToken!);
      expect({ name, error: replay.error }).toMatchObject({ name, error: { code: "UNAUTHENTICATED", reason: "TOKEN_REVOKED" } });
      await expectSessionEnded(first);
    }
  });

  it("hands the same token back into the refresh cookie on a replay", async () => {
    const user = await register(api.url);
    const loggedIn = await send(api.url, LoginDocument, { input: { email: user.user.email, password: PASSWORD, refreshTokenInCookie: true } });
    const cookie = loggedIn.headers.getSetCookie().find((line) => line.startsWith("refresh_token="))!.split(";")[0]!;
    const rotate = () => send(api.url, RefreshWithCookieDocument, {}, { headers: { cookie } });
    const [a, b] = [await rotate(), await rotate()];
    const cookieOf = (headers: Headers) => headers.getSetCookie().find((line) => line.startsWith("refresh_token="))!.split(";")[0];
    expect(cookieOf(a.headers)).toBe(cookieOf(b.headers));
    expect(cookieOf(a.headers)).not.toBe(cookie);
  });

  it("counts grace hits in auth_refresh_grace_hits_total", async () => {
    const metric = async () => {
      const text = await (await fetch(api.url.replace(/\/graphql$/, "/metrics"))).text();
      return Number(/^auth_refresh_grace_hits_total (\d+)$/m.exec(text)?.[1]);
    };
    const before = await metric();
    const user = await register(api.url);
    await refreshed(user.refreshToken!);
    await refreshed(user.refreshToken!);
    await refreshed(user.refreshToken!);
    expect(await metric()).toBe(before + 2);
  });

  it("stores no token: the session holds only jtis and times", async () => {
    if (!redis) return;
    const user = await login(api.url, (await register(api.url)).user.email);
    const first = await refreshed(user.refreshToken!);
    const keys = await redis.client.keys(`auth:{u:${user.user.id}}:*`);
    const values = await Promise.all(keys.map(async (key) => ((await redis!.client.type(key)) === "string" ? redis!.client.get(key) : "")));
    const everything = values.join("\n");
    for (const token of [user.refreshToken!, first.refreshToken!, user.accessToken, first.accessToken]) {
      expect(everything).not.toContain(token);
      expect(everything).not.toContain(token.split(".")[2]!);
    }
    expect(everything).toContain(jtiOf(first.refreshToken!));
  });
});

describe("strict mode (REFRESH_REUSE_GRACE_SECONDS=0)", () => {
  let api: TestApi;
  beforeAll(async () => {
    api = await startApi(null, { REFRESH_REUSE_GRACE_SECONDS: "0" });
  });
  afterAll(() => api.stop());

  it("keeps today's behaviour: an immediate replay ends the session", async () => {
    const user = await register(api.url);
    const first = (await send(api.url, RefreshDocument, { refreshToken: user.refreshToken! })).data!.refresh;
    const replay = await send(api.url, RefreshDocument, { refreshToken: user.refreshToken! });
    expect(replay.error).toMatchObject({ code: "UNAUTHENTICATED", reason: "REFRESH_TOKEN_REUSED" });
    expect((await send(api.url, MeDocument, {}, { token: first.accessToken })).status).toBe(401);
  });
});
