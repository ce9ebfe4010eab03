import { MeDocument, RefreshWithCookieDocument } from "../../schema/generated/graphql";
import type { TestApi } from "../support/api";
import { send, uniqueEmail } from "../support/client";
import { CookieJar, formPostAtProvider, startApiWithProvider, visit, type TestProvider } from "../support/oidc";

// A provider that answers with response_mode=form_post, as Apple does: panva's oidc-provider, asked
// for form_post (OIDC_CORP_RESPONSE_MODE), renders a page that posts the response to the callback.
const APP = "http://localhost:3000";
const accounts = Object.fromEntries(["poster", "victim", "intruder", "getter", "mixer"].map((login) => [login, { email: uniqueEmail(login), email_verified: true }]));

let api: TestApi, provider: TestProvider, origin: string;

beforeAll(async () => {
  ({ api, provider, origin } = await startApiWithProvider({ accounts, env: { APP_URL: APP, OIDC_CORP_RESPONSE_MODE: "form_post" } }));
}, 60_000);
afterAll(async () => {
  await api?.stop();
  await provider?.stop();
});

const callbackUrl = () => `${origin}/auth/oidc/corp/callback`;

/** GET start: the provider's URL, the flow cookie in the jar, and the flow cookie's Set-Cookie line. */
async function start(jar: CookieJar): Promise<{ authorizationUrl: string; setCookie: string }> {
  const response = await visit(jar, `${origin}/auth/oidc/corp/start?redirect_to=${encodeURIComponent(`${APP}/signed-in`)}`);
  expect(response.status).toBe(302);
  return { authorizationUrl: response.headers.get("location")!, setCookie: response.headers.getSetCookie().find((line) => line.startsWith("oidc_flow="))! };
}

/** The provider's form, posted to the callback as its page would (cross-site: no Origin of ours). */
async function post(jar: CookieJar, form: URLSearchParams) {
  const response = await visit(jar, callbackUrl(), { method: "POST", body: form, headers: { "content-type": "application/x-www-form-urlencoded", origin: provider.issuer } });
  const refresh = /refresh_token=([^;]*)/.exec(response.headers.getSetCookie().join("\n"))?.[1];
  return { status: response.status, location: new URL(response.headers.get("location") ?? "about:blank"), refresh };
}

it("asks for form_post, sets a SameSite=None flow cookie, and signs in from the provider's POST with every check", async () => {
  const jar = new CookieJar();
  const { authorizationUrl, setCookie } = await start(jar);
  expect(new URL(authorizationUrl).searchParams.get("response_mode")).toBe("form_post");
  // A cross-site POST carries only a SameSite=None cookie; it stays Secure and HttpOnly.
  expect(setCookie).toMatch(/SameSite=None/i);
  expect(setCookie).toMatch(/Secure/);
  expect(setCookie).toMatch(/HttpOnly/);
  const form = await formPostAtProvider(jar, authorizationUrl, "poster", callbackUrl());
  expect(form.get("iss")).toBe(provider.issuer);
  expect(form.get("code")).toBeTruthy();
  const { status, location, refresh } = await post(jar, form);
  expect(status).toBe(303);
  expect(location.href).toBe(`${APP}/signed-in`);
  const refreshed = await send(api.url, RefreshWithCookieDocument, {}, { headers: { cookie: `refresh_token=${refresh}` } });
  const me = await send(api.url, MeDocument, {}, { token: refreshed.data!.refresh.accessToken });
  expect(me.data!.me.email).toBe(accounts.poster!.email);
});

it("refuses a swapped state: the intruder's posted form in the victim's browser", async () => {
  const victim = new CookieJar();
  await start(victim);
  const intruder = new CookieJar();
  const form = await formPostAtProvider(intruder, (await start(intruder)).authorizationUrl, "intruder", callbackUrl());
  const { location, refresh } = await post(victim, form);
  expect(location.searchParams.get("error")).toBe("OIDC_STATE_MISMATCH");
  expect(refresh).toBeUndefined();
});

it("refuses the posted form without the flow cookie", async () => {
  const jar = new CookieJar();
  const form = await formPostAtProvider(jar, (await start(jar)).authorizationUrl, "victim", callbackUrl());
  const { location } = await post(new CookieJar(), form);
  expect(location.searchParams.get("error")).toBe("OIDC_STATE_MISMATCH");
});

it("refuses a form_post provider's response put in a GET callback URL", async () => {
  const jar = new CookieJar();
  const form = await formPostAtProvider(jar, (await start(jar)).authorizationUrl, "getter", callbackUrl());
  const response = await visit(jar, `${callbackUrl()}?${form}`);
  expect(response.status).toBe(303);
  expect(new URL(response.headers.get("location")!).searchParams.get("error")).toBe("OIDC_PROVIDER_ERROR");
  expect(response.headers.getSetCookie().some((line) => line.startsWith("refresh_token="))).toBe(false);
});

it("refuses a posted iss that is not the provider's (RFC 9207 mix-up)", async () => {
  const jar = new CookieJar();
  const form = await formPostAtProvider(jar, (await start(jar)).authorizationUrl, "mixer", callbackUrl());
  form.set("iss", "https://other.example");
  const { location, refresh } = await post(jar, form);
  expect(location.searchParams.get("error")).toBe("OIDC_PROVIDER_ERROR");
  expect(refresh).toBeUndefined();
});

it("spends nothing on a forged POST with another state: the flow and its cookie stay, and the provider's real answer signs in", async () => {
  const jar = new CookieJar();
  const { authorizationUrl } = await start(jar);
  const form = await formPostAtProvider(jar, authorizationUrl, "poster", callbackUrl());
  // Any site can make the browser POST to the callback; without the flow's state it must burn nothing.
  const forged = await visit(jar, callbackUrl(), { method: "POST", body: new URLSearchParams({ code: "forged", state: "not-the-state", iss: provider.issuer }), headers: { "content-type": "application/x-www-form-urlencoded", origin: "https://evil.example" } });
  expect(new URL(forged.headers.get("location")!).searchParams.get("error")).toBe("OIDC_STATE_MISMATCH");
  expect(forged.headers.getSetCookie().filter((line) => line.startsWith("oidc_flow="))).toEqual([]);
  const { location, refresh } = await post(jar, form);
  expect(location.href).toBe(`${APP}/signed-in`);
  expect(refresh).toBeTruthy();
});
