import { once } from "node:events";
import WebSocket from "ws";
import { LoginDocument, LogoutDocument, MeDocument, RefreshWithCookieDocument } from "../../schema/generated/graphql";
import { startApi, type TestApi } from "../support/api";
import { PASSWORD, register, send } from "../support/client";
import { openLive, wsUrl } from "../support/live";

/** A page on another origin that CORS_ORIGINS lists, and one it does not. */
const APP = "https://app.example.com";
const OTHER_APP = "http://127.0.0.1:5173";
const EVIL = "https://evil.example.net";

let api: TestApi;
let bare: TestApi;
beforeAll(async () => {
  api = await startApi(null, { CORS_ORIGINS: `${APP},${OTHER_APP}`, REFRESH_REUSE_GRACE_SECONDS: "0" });
  // No CORS_ORIGINS: same-origin pages and non-browser clients only, as before.
  bare = await startApi(null);
});
afterAll(async () => {
  await api?.stop();
  await bare?.stop();
});

const preflight = (url: string, origin: string, requestHeaders = "content-type, authorization") =>
  fetch(url, { method: "OPTIONS", headers: { origin, "access-control-request-method": "POST", "access-control-request-headers": requestHeaders } });

const setCookie = (headers: Headers) => headers.getSetCookie().find((line) => line.startsWith("refresh_token="));
const cookieValue = (line: string | undefined) => /^refresh_token=([^;]*)/.exec(line ?? "")?.[1];

async function signInWithCookie(url: string, origin?: string): Promise<{ accessToken: string; cookie: string }> {
  const user = await register(url);
  const result = await send(url, LoginDocument, { input: { email: user.user.email, password: PASSWORD, refreshTokenInCookie: true } }, origin ? { headers: { origin } } : {});
  return { accessToken: result.data!.login.accessToken, cookie: cookieValue(setCookie(result.headers))! };
}

describe("a preflight", () => {
  it("from a listed origin answers 204 with that origin, credentials, GraphQL's methods and headers, Vary: Origin and a bounded Max-Age", async () => {
    const response = await preflight(api.url, APP, "content-type, authorization, apollo-require-preflight, traceparent");
    expect(response.status).toBe(204);
    expect(response.headers.get("access-control-allow-origin")).toBe(APP);
    expect(response.headers.get("access-control-allow-credentials")).toBe("true");
    expect(response.headers.get("access-control-allow-methods")).toBe("GET, POST");
    const allowed = response.headers.get("access-control-allow-headers")!.split(", ");
    expect(allowed).toEqual(expect.arrayContaining(["content-type", "authorization", "apollo-require-preflight", "x-apollo-operation-name", "traceparent"]));
    expect(response.headers.get("vary")).toMatch(/\bOrigin\b/);
    const maxAge = Number(response.headers.get("access-control-max-age"));
    expect(maxAge).toBeGreaterThan(0);
    expect(maxAge).toBeLessThanOrEqual(7200);
    expect(await response.text()).toBe("");
  });

  it("allows the DPoP proof header, and lets the page read a DPoP refusal's WWW-Authenticate", async () => {
    const response = await preflight(api.url, APP, "authorization, dpop");
    expect(response.status).toBe(204);
    expect(response.headers.get("access-control-allow-headers")!.split(", ")).toEqual(expect.arrayContaining(["authorization", "dpop"]));
    const refused = await fetch(api.url, { method: "POST", headers: { origin: APP, "content-type": "application/json", dpop: "not a proof" }, body: JSON.stringify({ query: "{ __typename }" }) });
    expect(refused.status).toBe(401);
    expect(refused.headers.get("access-control-expose-headers")).toMatch(/www-authenticate/);
  });

  it("answers each listed origin with itself, never *", async () => {
    const response = await preflight(api.url, OTHER_APP);
    expect(response.status).toBe(204);
    expect(response.headers.get("access-control-allow-origin")).toBe(OTHER_APP);
  });

  it("from an origin that is not listed gets 403 ORIGIN_NOT_ALLOWED naming CORS_ORIGINS, not Apollo's CSRF 400", async () => {
    for (const url of [api.url, bare.url]) {
      const response = await preflight(url, EVIL);
      expect(response.status).toBe(403);
      expect(response.headers.get("access-control-allow-origin")).toBeNull();
      const body = (await response.json()) as { error: string; message: string };
      expect(body).toEqual({ error: "ORIGIN_NOT_ALLOWED", message: expect.stringContaining("CORS_ORIGINS") });
      expect(body.message).not.toMatch(/CSRF/i);
    }
  });

  it("matches origins exactly: another port, scheme or subdomain is another origin", async () => {
    for (const origin of ["https://app.example.com:8443", "http://app.example.com", "https://sub.app.example.com", "null"]) {
      expect((await preflight(api.url, origin)).status).toBe(403);
    }
  });
});

describe("an actual request", () => {
  it("from a listed origin is answered with that origin, credentials and the headers the client reads", async () => {
    const user = await register(api.url);
    const response = await send(api.url, MeDocument, {}, { token: user.accessToken, headers: { origin: APP } });
    expect(response.data!.me!.id).toBe(user.user.id);
    expect(response.headers.get("access-control-allow-origin")).toBe(APP);
    expect(response.headers.get("access-control-allow-credentials")).toBe("true");
    expect(response.headers.get("access-control-expose-headers")).toMatch(/retry-after/);
    expect(response.headers.get("vary")).toMatch(/\bOrigin\b/);
  });

  it("from a listed origin carries the headers on refusals too, so the page can read why (401 for a bad token, 400 for bad JSON)", async () => {
    const refused = await send(api.url, MeDocument, {}, { token: "not-a-token", headers: { origin: APP } });
    expect(refused.status).toBe(401);
    expect(refused.error?.reason).toEqual(expect.any(String));
    expect(refused.headers.get("access-control-allow-origin")).toBe(APP);
    const malformed = await fetch(api.url, { method: "POST", headers: { origin: APP, "content-type": "application/json" }, body: "{" });
    expect(malformed.status).toBe(400);
    expect(malformed.headers.get("access-control-allow-origin")).toBe(APP);
  });

  it("from a foreign origin gets 403 ORIGIN_NOT_ALLOWED, even one Apollo's CSRF prevention would have answered 400", async () => {
    const simple = await fetch(`${api.url}?query=${encodeURIComponent("{ __typename }")}`, { headers: { origin: EVIL } });
    expect(simple.status).toBe(403);
    expect(await simple.json()).toMatchObject({ error: "ORIGIN_NOT_ALLOWED" });
    const json = await fetch(api.url, { method: "POST", headers: { origin: EVIL, "content-type": "application/json" }, body: JSON.stringify({ query: "{ __typename }" }) });
    expect(json.status).toBe(403);
  });

  it("without an Origin (not a browser), or from the API's own origin, works as before and gets no CORS headers", async () => {
    for (const url of [api.url, bare.url]) {
      const user = await register(url);
      const own = new URL(url).origin;
      for (const headers of [{}, { origin: own }] as Record<string, string>[]) {
        const response = await send(url, MeDocument, {}, { token: user.accessToken, headers });
        expect(response.data!.me!.id).toBe(user.user.id);
        expect(response.headers.get("access-control-allow-origin")).toBeNull();
      }
    }
  });

  it("counts PUBLIC_URL's origin as the API's own, for a proxy in front that rewrites Host", async () => {
    const behindProxy = await startApi(null, { PUBLIC_URL: "https://auth.example.com" });
    try {
      const user = await register(behindProxy.url);
      const response = await send(behindProxy.url, MeDocument, {}, { token: user.accessToken, headers: { origin: "https://auth.example.com" } });
      expect(response.data!.me!.id).toBe(user.user.id);
      expect((await send(behindProxy.url, MeDocument, {}, { headers: { origin: "https://other.example.com" } })).status).toBe(403);
    } finally {
      await behindProxy.stop();
    }
  });
});

describe("the mutations the refresh cookie carries", () => {
  it("refresh from the cookie: a listed origin and the API's own pass, a foreign one gets 403 and the cookie stays unread", async () => {
    const { cookie } = await signInWithCookie(api.url, APP);
    const foreign = await fetch(api.url, {
      method: "POST",
      headers: { origin: EVIL, "content-type": "application/json", cookie: `refresh_token=${cookie}` },
      body: JSON.stringify({ query: "mutation { refresh { accessToken } }" }),
    });
    expect(foreign.status).toBe(403);
    expect(await foreign.json()).toMatchObject({ error: "ORIGIN_NOT_ALLOWED" });
    expect(setCookie(foreign.headers)).toBeUndefined();

    // The cookie was not used: with strict rotation a used one would now be refused.
    const listed = await send(api.url, RefreshWithCookieDocument, {}, { headers: { origin: APP, cookie: `refresh_token=${cookie}` } });
    expect(listed.data!.refresh.accessToken).toMatch(/^eyJ/);
    const rotated = cookieValue(setCookie(listed.headers))!;
    const own = await send(api.url, RefreshWithCookieDocument, {}, { headers: { origin: new URL(api.url).origin, cookie: `refresh_token=${rotated}` } });
    expect(own.data!.refresh.accessToken).toMatch(/^eyJ/);
  });

  it("logout, which clears the cookie: a foreign origin gets 403 and the session lives on", async () => {
    const { accessToken, cookie } = await signInWithCookie(api.url, APP);
    const foreign = await send(api.url, LogoutDocument, {}, { token: accessToken, headers: { origin: EVIL, cookie: `refresh_token=${cookie}` } });
    expect(foreign.status).toBe(403);
    expect(setCookie(foreign.headers)).toBeUndefined();
    expect((await send(api.url, MeDocument, {}, { token: accessToken })).status).toBe(200);
    const listed = await send(api.url, LogoutDocument, {}, { token: accessToken, headers: { origin: APP, cookie: `refresh_token=${cookie}` } });
    expect(listed.data!.logout).toBe(true);
    expect(setCookie(listed.headers)).toMatch(/^refresh_token=;/);
  });
});

describe("REFRESH_COOKIE_SAMESITE", () => {
  it("sets SameSite=None (still Secure and HttpOnly) for pages on another site", async () => {
    const crossSite = await startApi(null, { CORS_ORIGINS: APP, REFRESH_COOKIE_SAMESITE: "none" });
    try {
      const user = await register(crossSite.url);
      const result = await send(crossSite.url, LoginDocument, { input: { email: user.user.email, password: PASSWORD, refreshTokenInCookie: true } });
      const line = setCookie(result.headers)!;
      expect(line).toMatch(/; SameSite=None/);
      expect(line).toMatch(/; Secure/);
      expect(line).toMatch(/; HttpOnly/);
    } finally {
      await crossSite.stop();
    }
  });

  it("sets SameSite=Lax when asked, and Strict by default", async () => {
    const lax = await startApi(null, { REFRESH_COOKIE_SAMESITE: "lax" });
    try {
      const user = await register(lax.url);
      const result = await send(lax.url, LoginDocument, { input: { email: user.user.email, password: PASSWORD, refreshTokenInCookie: true } });
      expect(setCookie(result.headers)).toMatch(/; SameSite=Lax/);
    } finally {
      await lax.stop();
    }
    const user = await register(api.url);
    const strict = await send(api.url, LoginDocument, { input: { email: user.user.email, password: PASSWORD, refreshTokenInCookie: true } });
    expect(setCookie(strict.headers)).toMatch(/; SameSite=Strict/);
  });
});

describe("the WebSocket's origins", () => {
  it("default to CORS_ORIGINS when LIVE_ALLOWED_ORIGINS is unset: a listed origin and the API's own connect, a foreign one gets 403", async () => {
    const user = await register(api.url);
    const refused = new WebSocket(wsUrl(api.url), "graphql-transport-ws", { headers: { origin: EVIL } });
    const [, response] = (await once(refused, "unexpected-response")) as [unknown, { statusCode: number }];
    expect(response.statusCode).toBe(403);
    refused.on("error", () => undefined).terminate();
    for (const origin of [APP, new URL(api.url).origin]) {
      const live = await openLive(api.url, user.accessToken, { subscribe: false, headers: { origin } });
      expect(await live.me()).toBe(user.user.id);
      await live.dispose();
    }
  });

  it("are any origin when neither is set, as before", async () => {
    const user = await register(bare.url);
    const live = await openLive(bare.url, user.accessToken, { subscribe: false, headers: { origin: EVIL } });
    expect(await live.me()).toBe(user.user.id);
    await live.dispose();
  });
});
