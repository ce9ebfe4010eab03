import { print } from "graphql";
import {
  LoginDocument,
  LogoutAllDocument,
  LogoutDocument,
  MeDocument,
  RefreshDocument,
  RefreshWithCookieDocument,
  RegisterDocument,
} from "../../schema/generated/graphql";
import { startApi, type TestApi } from "../support/api";
import { PASSWORD, register, send, uniqueEmail } from "../support/client";

let api: TestApi;
beforeAll(async () => {
  // Strict rotation, so a replayed cookie is refused; refresh-grace.test.ts covers the window.
  api = await startApi(null, { REFRESH_REUSE_GRACE_SECONDS: "0" });
});
afterAll(() => api.stop());

/** The refresh_token Set-Cookie line of a response, if any. */
const setCookie = (headers: Headers) => headers.getSetCookie().find((line) => line.startsWith("refresh_token="));
const cookieValue = (line: string | undefined) => /^refresh_token=([^;]*)/.exec(line ?? "")?.[1];
const withCookie = (value: string) => ({ headers: { cookie: `refresh_token=${value}` } });

async function loginWithCookie(email: string) {
  const result = await send(api.url, LoginDocument, { input: { email, password: PASSWORD, refreshTokenInCookie: true } });
  return { payload: result.data!.login, cookie: setCookie(result.headers) };
}

describe("the opt-in refresh cookie", () => {
  it("keeps the refresh token out of the payload and in an HttpOnly, Secure, SameSite=Strict cookie scoped to /graphql", async () => {
    const result = await send(api.url, RegisterDocument, { input: { email: uniqueEmail(), password: PASSWORD, refreshTokenInCookie: true } });
    expect(result.data!.register.refreshToken).toBeNull();
    const line = setCookie(result.headers)!;
    expect(line).toMatch(/; Path=\/graphql/);
    expect(line).toMatch(/; HttpOnly/);
    expect(line).toMatch(/; Secure/);
    expect(line).toMatch(/; SameSite=Strict/);
    expect(new Date(/Expires=([^;]+)/.exec(line)![1]!).getTime()).toBeCloseTo(new Date(result.data!.register.refreshTokenExpiresAt).getTime(), -4);
    expect(cookieValue(line)!.split(".")).toHaveLength(3);
  });

  it("sets no cookie unless asked", async () => {
    const result = await send(api.url, RegisterDocument, { input: { email: uniqueEmail(), password: PASSWORD } });
    expect(result.data!.register.refreshToken).toEqual(expect.any(String));
    expect(setCookie(result.headers)).toBeUndefined();
  });

  it("refreshes from the cookie without an argument and rotates the token back into the cookie", async () => {
    const user = await register(api.url);
    const { cookie } = await loginWithCookie(user.user.email);
    const refreshed = await send(api.url, RefreshWithCookieDocument, {}, withCookie(cookieValue(cookie)!));
    expect(refreshed.data!.refresh.refreshToken).toBeNull();
    const rotated = cookieValue(setCookie(refreshed.headers));
    expect(rotated).toBeDefined();
    expect(rotated).not.toBe(cookieValue(cookie));
    expect((await send(api.url, MeDocument, {}, { token: refreshed.data!.refresh.accessToken })).status).toBe(200);

    const again = await send(api.url, RefreshWithCookieDocument, {}, withCookie(rotated!));
    expect(again.data!.refresh.sessionId).toBe(refreshed.data!.refresh.sessionId);
  });

  it("clears the cookie when the cookie's token is refused (here: reused)", async () => {
    const user = await register(api.url);
    const { cookie } = await loginWithCookie(user.user.email);
    await send(api.url, RefreshWithCookieDocument, {}, withCookie(cookieValue(cookie)!));
    const replay = await send(api.url, RefreshWithCookieDocument, {}, withCookie(cookieValue(cookie)!));
    expect(replay.error?.reason).toBe("REFRESH_TOKEN_REUSED");
    expect(setCookie(replay.headers)).toMatch(/^refresh_token=;.*Expires=Thu, 01 Jan 1970/);
  });

  it("refuses a refresh with neither argument nor cookie", async () => {
    const result = await send(api.url, RefreshWithCookieDocument, {});
    expect(result.error).toMatchObject({ code: "UNAUTHENTICATED", reason: "INVALID_TOKEN" });
  });

  it("still takes the token as an argument, returning it in the payload and leaving cookies alone", async () => {
    const user = await register(api.url);
    const result = await send(api.url, RefreshDocument, { refreshToken: user.refreshToken! });
    expect(result.data!.refresh.refreshToken).toEqual(expect.any(String));
    expect(setCookie(result.headers)).toBeUndefined();
  });

  it.each([["logout"], ["logoutAll"]])("%s clears the cookie", async (operation) => {
    const user = await register(api.url);
    const { payload, cookie } = await loginWithCookie(user.user.email);
    const options = { token: payload.accessToken, ...withCookie(cookieValue(cookie)!) };
    const result =
      operation === "logout"
        ? await send(api.url, LogoutDocument, {}, options)
        : await send(api.url, LogoutAllDocument, {}, options);
    expect(result.errors).toBeUndefined();
    expect(setCookie(result.headers)).toMatch(/^refresh_token=;.*Path=\/graphql.*Expires=Thu, 01 Jan 1970/);
    const refreshed = await send(api.url, RefreshWithCookieDocument, {}, withCookie(cookieValue(cookie)!));
    expect(refreshed.error?.code).toBe("UNAUTHENTICATED");
  });

  it("keeps Apollo's CSRF prevention: a simple cross-site-style request cannot spend the cookie", async () => {
    const user = await register(api.url);
    const { cookie } = await loginWithCookie(user.user.email);
    const forged = await fetch(api.url, {
      method: "POST",
      headers: { "content-type": "text/plain", cookie: `refresh_token=${cookieValue(cookie)}` },
      body: JSON.stringify({ query: print(RefreshWithCookieDocument) }),
    });
    expect(forged.status).toBe(400);
    expect(await forged.text()).toMatch(/CSRF/);
    const genuine = await send(api.url, RefreshWithCookieDocument, {}, withCookie(cookieValue(cookie)!));
    expect(genuine.data?.refresh.accessToken).toEqual(expect.any(String));
  });
});
