import { SetUserDisabledDocument } from "../../schema/generated/graphql";
import type { TestApi } from "../support/api";
import { login, PASSWORD, send, uniqueEmail } from "../support/client";
import { asymmetricEnv, newKey } from "../support/keys";
import { authorizeInBrowser, CookieJar, registerClient, startOAuthApi } from "../support/oauth";
import { signInAtProvider, startApiWithProvider, visit, type TestProvider } from "../support/oidc";
import { startRedis, type TestRedis } from "../support/redis";

// The OAuth interaction's provider buttons (docs/oauth-provider.md), played over HTTP with a cookie
// jar against a real upstream oidc-provider: where the callback may send the browser, whose
// interaction gets the session, and what the interaction page shows of a failure.
const CALLBACK = "http://127.0.0.1:9/callback";
const SECRET = "provider-button-client-secret-long-and-random-0123456789";
const ADMIN_EMAIL = uniqueEmail("interaction-admin");
const carol = uniqueEmail("interaction-http-carol");
const dave = uniqueEmail("interaction-http-dave");
let redis: TestRedis, api: TestApi, provider: TestProvider, origin: string;

beforeAll(async () => {
  redis = await startRedis();
  ({ api, provider, origin } = await startApiWithProvider({
    redisUrl: redis.url,
    accounts: { carol: { email: carol, email_verified: true }, dave: { email: dave, email_verified: true } },
    env: { ...asymmetricEnv([newKey("ES256")]), OAUTH_PROVIDER: "on", ADMIN_EMAIL, ADMIN_PASSWORD: PASSWORD },
  }));
  await registerClient(api, { clientId: "web-app", redirectUris: [CALLBACK] }, SECRET);
});
afterAll(async () => {
  await api?.stop();
  await Promise.all([provider?.stop(), redis?.destroy()]);
});

const CHALLENGE = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

/** A browser at the authorization endpoint: the interaction page's path it is sent to. */
async function beginInteraction(jar: CookieJar): Promise<string> {
  const query = new URLSearchParams({ client_id: "web-app", response_type: "code", scope: "openid email", state: "s", code_challenge_method: "S256", code_challenge: CHALLENGE, redirect_uri: CALLBACK });
  const location = (await visit(jar, `${origin}/oauth/authorize?${query}`)).headers.get("location")!;
  expect(location).toMatch(/^\/oauth\/interaction\/[\w-]+$/);
  return location;
}

/** The provider button, then the provider's login form as `login`: the callback URL, not yet visited. */
async function throughProvider(jar: CookieJar, interaction: string, login: string, query = ""): Promise<string> {
  const start = await visit(jar, `${origin}${interaction}/oidc/corp${query}`);
  expect(start.status).toBe(302);
  return signInAtProvider(jar, start.headers.get("location")!, login, `${origin}/auth/oidc/corp/callback`);
}

describe("the passkey on the OAuth interaction", () => {
  it("is not offered when WEBAUTHN_ORIGINS does not list the issuer's origin, where no ceremony could verify", async () => {
    const elsewhere = await startOAuthApi(redis.url, { WEBAUTHN_ORIGINS: "http://localhost:1" });
    try {
      await registerClient(elsewhere, { clientId: "elsewhere-app", redirectUris: [CALLBACK] }, SECRET);
      const jar = new CookieJar();
      const query = new URLSearchParams({ client_id: "elsewhere-app", response_type: "code", scope: "openid", state: "s", code_challenge_method: "S256", code_challenge: CHALLENGE, redirect_uri: CALLBACK });
      const interaction = (await visit(jar, `${elsewhere.issuer}/oauth/authorize?${query}`)).headers.get("location")!;
      const page = await (await visit(jar, `${elsewhere.issuer}${interaction}`)).text();
      expect(page).toContain('name="password"');
      expect(page).not.toContain("/passkey/options");
    } finally {
      await elsewhere.stop();
    }
  });

  it("answers the options with this interaction's CSRF token only, and refuses a response that is no assertion beside the passkey button", async () => {
    const jar = new CookieJar();
    const interaction = await beginInteraction(jar);
    const page = await (await visit(jar, `${origin}${interaction}`)).text();
    expect(page).toContain(`data-options="${interaction}/passkey/options"`);
    const csrf = /name="csrf" value="([^"]+)"/.exec(page)![1]!;
    const post = (path: string, form: Record<string, string>) =>
      visit(jar, `${origin}${interaction}${path}`, { method: "POST", body: new URLSearchParams(form), headers: { "content-type": "application/x-www-form-urlencoded" } });
    const options = await post("/passkey/options", { csrf });
    expect(options.status).toBe(200);
    expect(await options.json()).toMatchObject({ challenge: expect.any(String), userVerification: "required" });
    expect((await post("/passkey/options", { csrf: "forged" })).status).toBe(403);
    const refused = await post("/passkey", { csrf, response: "not json" });
    expect(refused.status).toBe(401);
    expect(await refused.text()).toMatch(/id="field-passkey-error"[^>]*>[^<]*<span class="reason">\(INVALID_INPUT\)/);
  });
});

describe("a provider button on the OAuth interaction", () => {
  it("comes back only to its own interaction's page, whatever the request names, and hands no app a refresh cookie", async () => {
    const jar = new CookieJar();
    const interaction = await beginInteraction(jar);
    const callback = await throughProvider(jar, interaction, "carol", `?redirect_to=${encodeURIComponent("https://evil.example/")}`);
    const back = await visit(jar, callback);
    expect(back.status).toBe(303);
    expect(back.headers.get("location")).toBe(`${origin}${interaction}`);
    expect(back.headers.getSetCookie().some((line) => line.startsWith("refresh_token="))).toBe(false);
    // The interaction page completes the sign-in; consent; the client's registered redirect URI gets the code.
    const code = new URL(await authorizeInBrowser(jar, `${origin}${interaction}`, "", "", CALLBACK));
    expect(code.searchParams.get("code")).toEqual(expect.any(String));
  });

  it("starts nothing for a browser without the interaction's cookie", async () => {
    const interaction = await beginInteraction(new CookieJar());
    const elsewhere = await visit(new CookieJar(), `${origin}${interaction}/oidc/corp`);
    expect(elsewhere.status).toBe(400);
    expect(elsewhere.headers.get("location")).toBeNull();
    expect(elsewhere.headers.getSetCookie()).toEqual([]);
  });

  it("refuses a provider that is not configured, on the sign-in page", async () => {
    const jar = new CookieJar();
    const interaction = await beginInteraction(jar);
    const unknown = await visit(jar, `${origin}${interaction}/oidc/nobody`);
    expect(unknown.status).toBe(401);
    expect(await unknown.text()).toContain("PROVIDER_NOT_FOUND");
  });

  it("shows a callback's ?error= only when it is one of the provider sign-in's codes", async () => {
    const jar = new CookieJar();
    const interaction = await beginInteraction(jar);
    const known = await visit(jar, `${origin}${interaction}?error=OIDC_ACCOUNT_EXISTS`);
    expect(known.status).toBe(401);
    expect(await known.text()).toContain("(OIDC_ACCOUNT_EXISTS)");
    const forged = await visit(jar, `${origin}${interaction}?error=${encodeURIComponent("Call +1 555 0100 for help")}`);
    expect(forged.status).toBe(200);
    expect(await forged.text()).not.toContain("555 0100");
  });

  it("does not complete with a session that ended between the callback and the interaction page", async () => {
    const jar = new CookieJar();
    const interaction = await beginInteraction(jar);
    await visit(jar, await throughProvider(jar, interaction, "dave"));
    const admin = await login(`${origin}/graphql`, ADMIN_EMAIL);
    const userId = (await api.store.findUserIdByEmail(dave))!;
    expect((await send(`${origin}/graphql`, SetUserDisabledDocument, { userId, disabled: true }, { token: admin.accessToken })).errors).toBeUndefined();
    const page = await visit(jar, `${origin}${interaction}`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('name="password"');
  });
});
