import {
  AuthorizedAppsDocument,
  ChangePasswordDocument,
  ConfirmTotpDocument,
  EnrollTotpDocument,
  CreateOAuthClientDocument,
  DeleteOAuthClientDocument,
  LogoutAllDocument,
  MeDocument,
  OAuthClientsDocument,
  RevokeAppAccessDocument,
  RotateOAuthClientSecretDocument,
  SetUserDisabledDocument,
  UpdateOAuthClientDocument,
} from "../../schema/generated/graphql";
import { jose, openid } from "../../src/auth/federation/openid";
import { login, PASSWORD, register, send, uniqueEmail } from "../support/client";
import { authorizeInBrowser, CookieJar, registerClient, startOAuthApi } from "../support/oauth";
import { visit } from "../support/oidc";
import { startRedis, type TestRedis } from "../support/redis";
import { stepAt, totpCode } from "../support/totp";
import { dpopHeaders, dpopKey, proof } from "../support/dpop";
import { TEST_AUDIENCE, TEST_ISSUER } from "../support/api";
import { createVerifier } from "@revocable-auth/verifier";
import { keys } from "@revocable-auth/verifier/internal";
import { Redis } from "ioredis";
import type { TestApi } from "../support/api";
import type { EndedSignIn } from "../../src/auth/oauth/provider";
import { ISSUED_ACCESS_TOKEN } from "../../src/store/memory/oauth-models";
import { storeSeam } from "../support/store-seam";

type Configuration = import("openid-client", { with: { "resolution-mode": "import" } }).Configuration;
type TokenResponse = Awaited<ReturnType<typeof openid.authorizationCodeGrant>>;

// The API as an OAuth 2.1 / OpenID provider (issue 28), on a real redis-server; relying parties are
// openid-client 6, a browser is played over HTTP with a cookie jar, and tokens are checked with jose
// alone against the published JWKS.
const CALLBACK = "http://127.0.0.1:9/callback";
const OTHER_CALLBACK = "http://127.0.0.1:9/other";
const SECRET = "a-client-secret-that-is-long-and-random-0123456789";
const ADMIN_EMAIL = uniqueEmail("oauth-admin");
let redis: TestRedis;
let api: TestApi & { issuer: string };
let graphql: string;
/** What the back-channel logout seam was told. */
const signOuts: EndedSignIn[] = [];
/** Acts just before the store records an access token the provider is issuing (test/support/store-seam.ts). */
const seam = storeSeam("saveOAuthModel", "before", ([model]) => model === ISSUED_ACCESS_TOKEN);

beforeAll(async () => {
  redis = await startRedis();
  api = await startOAuthApi(redis.url, { ADMIN_EMAIL, ADMIN_PASSWORD: PASSWORD }, { oauthSignOuts: (ended) => signOuts.push(ended), tracing: seam.tracing });
  graphql = `${api.issuer}/graphql`;
  await registerClient(api, { clientId: "web-app", redirectUris: [CALLBACK], grantTypes: ["authorization_code", "refresh_token"], scopes: ["openid", "email", "api"] }, SECRET);
  await registerClient(api, { clientId: "other-app", redirectUris: [OTHER_CALLBACK], grantTypes: ["authorization_code", "refresh_token"], scopes: ["openid", "email", "api"] }, SECRET);
  await registerClient(api, { clientId: "spa", redirectUris: [CALLBACK], grantTypes: ["authorization_code"], scopes: ["openid"] }, null);
  await registerClient(api, { clientId: "reports", grantTypes: ["client_credentials"], scopes: ["reports:read"] }, SECRET);
});
afterAll(async () => {
  await api?.stop();
  await redis?.destroy();
});

const rp = (clientId: string, secret = SECRET): Promise<Configuration> =>
  openid.discovery(new URL(api.issuer), clientId, undefined, openid.ClientSecretBasic(secret), { execute: [openid.allowInsecureRequests] });

interface SignedIn {
  readonly email: string;
  readonly config: Configuration;
  readonly tokens: TokenResponse;
  readonly jar: CookieJar;
}

/** A user signs in at `clientId` with code + PKCE and allows it; the client redeems the code. */
async function signIn(clientId = "web-app", scope = "openid email api", email?: string, secret = SECRET): Promise<SignedIn> {
  const address = email ?? uniqueEmail("oauth");
  if (email === undefined) await register(graphql, { email: address });
  const config = await rp(clientId, secret);
  const verifier = openid.randomPKCECodeVerifier();
  const state = openid.randomState();
  const redirect = clientId === "other-app" ? OTHER_CALLBACK : CALLBACK;
  const url = openid.buildAuthorizationUrl(config, { redirect_uri: redirect, scope, code_challenge: await openid.calculatePKCECodeChallenge(verifier), code_challenge_method: "S256", state });
  const jar = new CookieJar();
  const callback = await authorizeInBrowser(jar, url.href, address, PASSWORD, redirect);
  const tokens = await openid.authorizationCodeGrant(config, new URL(callback), { pkceCodeVerifier: verifier, expectedState: state });
  return { email: address, config, tokens, jar };
}

const active = async (config: Configuration, token: string) => (await openid.tokenIntrospection(config, token)).active;

/** The code a browser brings back, without redeeming it; the verifier it was asked with. */
async function codeFor(clientId: string, redirect: string, scope = "openid"): Promise<{ callback: URL; verifier: string; state: string }> {
  const email = uniqueEmail("oauth-code");
  await register(graphql, { email });
  const config = await rp(clientId);
  const verifier = openid.randomPKCECodeVerifier();
  const state = openid.randomState();
  const url = openid.buildAuthorizationUrl(config, { redirect_uri: redirect, scope, code_challenge: await openid.calculatePKCECodeChallenge(verifier), code_challenge_method: "S256", state });
  return { callback: new URL(await authorizeInBrowser(new CookieJar(), url.href, email, PASSWORD, redirect)), verifier, state };
}

/** The token endpoint answered directly, as an attacker would call it. */
async function tokenRequest(clientId: string, body: Record<string, string>): Promise<{ status: number; json: Record<string, unknown> }> {
  const response = await fetch(`${api.issuer}/oauth/token`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", authorization: `Basic ${Buffer.from(`${clientId}:${SECRET}`).toString("base64")}` },
    body: new URLSearchParams(body),
  });
  return { status: response.status, json: (await response.json()) as Record<string, unknown> };
}

describe("the OAuth provider", () => {
  it("publishes discovery with every endpoint, and the API's key set as its JWKS", async () => {
    const discovery = (await (await fetch(`${api.issuer}/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
    expect(discovery.issuer).toBe(api.issuer);
    for (const endpoint of ["authorization_endpoint", "token_endpoint", "jwks_uri", "introspection_endpoint", "revocation_endpoint", "end_session_endpoint", "userinfo_endpoint"]) {
      expect(String(discovery[endpoint])).toMatch(new RegExp(`^${api.issuer}/oauth/`));
    }
    expect(discovery.grant_types_supported).toEqual(expect.arrayContaining(["authorization_code", "refresh_token", "client_credentials"]));
    expect(discovery.grant_types_supported).not.toContain("implicit");
    expect(discovery.grant_types_supported).not.toContain("password");
    expect(discovery.response_types_supported).toEqual(["code"]);
    expect(discovery.code_challenge_methods_supported).toEqual(["S256"]);
    const published = (await (await fetch(String(discovery.jwks_uri))).json()) as { keys: { kid: string }[] };
    const own = (await (await fetch(`${api.issuer}/.well-known/jwks.json`)).json()) as { keys: { kid: string }[] };
    expect(published.keys.map((key) => key.kid)).toEqual(own.keys.map((key) => key.kid));
  });

  it("signs a user in with code + PKCE, and the ID and access tokens verify with jose against the JWKS", async () => {
    const { tokens, config, email } = await signIn();
    const jwks = jose.createRemoteJWKSet(new URL(config.serverMetadata().jwks_uri!));
    const { payload: idToken } = await jose.jwtVerify(tokens.id_token!, jwks, { issuer: api.issuer, audience: "web-app", algorithms: ["ES256"] });
    expect(idToken).toMatchObject({ email, acr: "aal1", amr: ["pwd"] });
    const { payload: access, protectedHeader } = await jose.jwtVerify(tokens.access_token, jwks, { issuer: api.issuer, audience: api.config.jwt.audience, typ: "at+jwt", algorithms: ["ES256"] });
    expect(protectedHeader.typ).toBe("at+jwt");
    expect(access).toMatchObject({ sub: idToken.sub, client_id: "web-app", scope: expect.stringContaining("api"), roles: ["USER"], aal: "aal1" });
    expect(typeof access.sid).toBe("string");
    expect(typeof access.jti).toBe("string");
    expect(tokens.refresh_token).toBeDefined();
  });

  it("lets /graphql take an access token with the api scope as its user, and refuses one without", async () => {
    const { tokens, email } = await signIn();
    const me = await send(graphql, MeDocument, {}, { token: tokens.access_token });
    expect(me.data?.me.email).toBe(email);
    const narrow = await signIn("web-app", "openid email");
    const refused = await send(graphql, MeDocument, {}, { token: narrow.tokens.access_token });
    expect(refused.error).toMatchObject({ code: "FORBIDDEN", reason: "INSUFFICIENT_SCOPE" });
  });

  it("never delegates ADMIN: an admin's token with the api scope acts as a plain user", async () => {
    const { tokens } = await signIn("web-app", "openid email api", ADMIN_EMAIL);
    expect(jose.decodeJwt(tokens.access_token).roles).toEqual(["USER"]);
    const users = await fetch(graphql, { method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${tokens.access_token}` }, body: JSON.stringify({ query: "{ users(first: 1) { totalCount } }" }) });
    expect(((await users.json()) as { errors: { extensions: { code: string } }[] }).errors[0]!.extensions.code).toBe("FORBIDDEN");
  });

  it("gives a service a token for its scopes with client credentials, which /graphql does not take", async () => {
    const config = await rp("reports");
    const tokens = await openid.clientCredentialsGrant(config, { scope: "reports:read" });
    const jwks = jose.createRemoteJWKSet(new URL(config.serverMetadata().jwks_uri!));
    const { payload } = await jose.jwtVerify(tokens.access_token, jwks, { issuer: api.issuer, typ: "at+jwt" });
    expect(payload).toMatchObject({ client_id: "reports", scope: "reports:read", sub: "reports" });
    expect((await send(graphql, MeDocument, {}, { token: tokens.access_token })).error?.reason).toBe("INVALID_TOKEN");
  });
});

describe("refresh tokens", () => {
  it("rotate; a rotated-out one presented again ends the grant, its refresh and access tokens", async () => {
    const { config, tokens } = await signIn();
    const rotated = await openid.refreshTokenGrant(config, tokens.refresh_token!);
    expect(rotated.refresh_token).not.toBe(tokens.refresh_token);
    expect(await active(config, rotated.access_token)).toBe(true);
    await expect(openid.refreshTokenGrant(config, tokens.refresh_token!)).rejects.toMatchObject({ error: "invalid_grant" });
    await expect(openid.refreshTokenGrant(config, rotated.refresh_token!)).rejects.toMatchObject({ error: "invalid_grant" });
    expect(await active(config, rotated.access_token)).toBe(false);
    expect((await send(graphql, MeDocument, {}, { token: rotated.access_token })).error?.reason).toBe("TOKEN_REVOKED");
  });

  it("are refused once the session here has ended", async () => {
    const { config, tokens, email } = await signIn();
    const own = await login(graphql, email);
    await send(graphql, LogoutAllDocument, {}, { token: own.accessToken });
    await expect(openid.refreshTokenGrant(config, tokens.refresh_token!)).rejects.toMatchObject({ error: "invalid_grant" });
  });
});

describe("introspection (RFC 7662)", () => {
  it("says active for a live token, and not to another client", async () => {
    const { config, tokens } = await signIn();
    const introspection = await openid.tokenIntrospection(config, tokens.access_token);
    expect(introspection).toMatchObject({ active: true, client_id: "web-app", token_type: "Bearer" });
    expect(await active(await rp("other-app"), tokens.access_token)).toBe(false);
    expect(await active(await rp("other-app"), tokens.refresh_token!)).toBe(false);
  });

  it("says inactive after logoutAll, for the refresh token too", async () => {
    const { config, tokens, email } = await signIn();
    expect(await active(config, tokens.refresh_token!)).toBe(true);
    const own = await login(graphql, email);
    await send(graphql, LogoutAllDocument, {}, { token: own.accessToken });
    expect(await active(config, tokens.access_token)).toBe(false);
    expect(await active(config, tokens.refresh_token!)).toBe(false);
    expect((await send(graphql, MeDocument, {}, { token: tokens.access_token })).error?.reason).toBe("TOKEN_REVOKED");
  });

  it("says inactive after a password change", async () => {
    const { config, tokens, email } = await signIn();
    const own = await login(graphql, email);
    await send(graphql, ChangePasswordDocument, { currentPassword: PASSWORD, newPassword: `${PASSWORD} 2` }, { token: own.accessToken });
    expect(await active(config, tokens.access_token)).toBe(false);
  });

  it("says inactive once the user is disabled", async () => {
    const { config, tokens } = await signIn();
    const admin = await login(graphql, ADMIN_EMAIL);
    const userId = String(jose.decodeJwt(tokens.access_token).sub);
    expect((await send(graphql, SetUserDisabledDocument, { userId, disabled: true }, { token: admin.accessToken })).errors).toBeUndefined();
    expect(await active(config, tokens.access_token)).toBe(false);
  });
});

describe("revocation (RFC 7009)", () => {
  it("revokes an access token at introspection and at /graphql, and ends its grant; the user's session lives on", async () => {
    const { config, tokens, email } = await signIn();
    await openid.tokenRevocation(config, tokens.access_token);
    expect(await active(config, tokens.access_token)).toBe(false);
    expect((await send(graphql, MeDocument, {}, { token: tokens.access_token })).error?.reason).toBe("TOKEN_REVOKED");
    await expect(openid.refreshTokenGrant(config, tokens.refresh_token!)).rejects.toMatchObject({ error: "invalid_grant" });
    const again = await signIn("web-app", "openid email api", email);
    expect(await active(config, again.tokens.access_token)).toBe(true);
  });

  it("revokes a refresh token, and ignores a token of another client", async () => {
    const { config, tokens } = await signIn();
    await openid.tokenRevocation(await rp("other-app"), tokens.access_token);
    expect(await active(config, tokens.access_token)).toBe(true);
    await openid.tokenRevocation(config, tokens.refresh_token!);
    await expect(openid.refreshTokenGrant(config, tokens.refresh_token!)).rejects.toMatchObject({ error: "invalid_grant" });
  });
});

describe("attacks on the code flow", () => {
  async function authorizationAnswer(params: Record<string, string>): Promise<Response> {
    return fetch(`${api.issuer}/oauth/authorize?${new URLSearchParams({ client_id: "web-app", response_type: "code", scope: "openid", state: "s", code_challenge_method: "S256", code_challenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", ...params })}`, { redirect: "manual" });
  }

  it("refuses a redirect_uri not registered, or one character off, without redirecting", async () => {
    for (const redirect of ["https://evil.example/callback", `${CALLBACK}x`, CALLBACK.replace("callback", "callbacK"), `${CALLBACK}/`]) {
      const response = await authorizationAnswer({ redirect_uri: redirect });
      expect(response.status).toBe(400);
      expect(response.headers.get("location")).toBeNull();
    }
  });

  it("refuses a PKCE downgrade: plain, or no challenge at all", async () => {
    const plain = await authorizationAnswer({ redirect_uri: CALLBACK, code_challenge_method: "plain", code_challenge: "a".repeat(43) });
    expect(new URL(plain.headers.get("location")!).searchParams.get("error")).toBe("invalid_request");
    const none = await fetch(`${api.issuer}/oauth/authorize?${new URLSearchParams({ client_id: "spa", response_type: "code", scope: "openid", redirect_uri: CALLBACK })}`, { redirect: "manual" });
    expect(new URL(none.headers.get("location")!).searchParams.get("error")).toBe("invalid_request");
  });

  it("refuses a code without its verifier, or with another one", async () => {
    const { callback } = await codeFor("web-app", CALLBACK);
    const code = callback.searchParams.get("code")!;
    expect((await tokenRequest("web-app", { grant_type: "authorization_code", code, redirect_uri: CALLBACK })).json.error).toBe("invalid_grant");
    expect((await tokenRequest("web-app", { grant_type: "authorization_code", code, redirect_uri: CALLBACK, code_verifier: openid.randomPKCECodeVerifier() })).json.error).toBe("invalid_grant");
  });

  it("refuses a replayed code and ends the grant it made", async () => {
    const { callback, verifier } = await codeFor("web-app", CALLBACK, "openid api");
    const code = callback.searchParams.get("code")!;
    const first = await tokenRequest("web-app", { grant_type: "authorization_code", code, redirect_uri: CALLBACK, code_verifier: verifier });
    expect(first.status).toBe(200);
    const replay = await tokenRequest("web-app", { grant_type: "authorization_code", code, redirect_uri: CALLBACK, code_verifier: verifier });
    expect(replay.json.error).toBe("invalid_grant");
    expect(await active(await rp("web-app"), String(first.json.access_token))).toBe(false);
  });

  it("refuses a code at another client", async () => {
    const { callback, verifier } = await codeFor("web-app", CALLBACK, "openid api");
    const stolen = await tokenRequest("other-app", { grant_type: "authorization_code", code: callback.searchParams.get("code")!, redirect_uri: CALLBACK, code_verifier: verifier });
    expect(stolen.json.error).toBe("invalid_grant");
  });

  /** A new user, and an authorization URL of web-app for them to open. */
  async function newUserAndUrl(label: string): Promise<{ email: string; url: URL }> {
    const email = uniqueEmail(label);
    await register(graphql, { email });
    const config = await rp("web-app");
    const url = openid.buildAuthorizationUrl(config, { redirect_uri: CALLBACK, scope: "openid", code_challenge: await openid.calculatePKCECodeChallenge(openid.randomPKCECodeVerifier()), code_challenge_method: "S256", state: "s" });
    return { email, url };
  }

  it("gives no code without consent: the resume URL alone, or a consent post without its CSRF token", async () => {
    const { email, url } = await newUserAndUrl("oauth-consent");
    const jar = new CookieJar();
    const consentUrl = await authorizeInBrowser(jar, url.href, email, PASSWORD, CALLBACK, { consent: false });
    const uid = consentUrl.split("/").pop()!;
    const forged = await visit(jar, `${api.issuer}/oauth/interaction/${uid}/confirm`, { method: "POST", body: new URLSearchParams({ csrf: "x" }), headers: { "content-type": "application/x-www-form-urlencoded" } });
    expect(forged.status).toBe(403);
    const resumed = await visit(jar, `${api.issuer}/oauth/authorize/${uid}`);
    const next = resumed.headers.get("location") ?? "";
    expect(next).not.toContain("code=");
  });

  it("redirects from the interaction pages only to the provider's own URLs, whatever a request names", async () => {
    const { email, url } = await newUserAndUrl("oauth-redirect");
    const jar = new CookieJar();
    const first = await visit(jar, url.href);
    const interaction = new URL(first.headers.get("location")!, api.issuer).href;
    const page = await visit(jar, `${interaction}?returnTo=https://evil.example/&redirect_uri=https://evil.example/`);
    expect(page.headers.get("content-security-policy")).toMatch(/default-src 'none'.*frame-ancestors 'none'/);
    const csrf = /name="csrf" value="([^"]+)"/.exec(await page.text())![1]!;
    const posted = await visit(jar, `${interaction}/login?redirect_to=https://evil.example/`, {
      method: "POST",
      body: new URLSearchParams({ csrf, email, password: PASSWORD, returnTo: "https://evil.example/", redirect_uri: "https://evil.example/" }),
      headers: { "content-type": "application/x-www-form-urlencoded" },
    });
    expect(new URL(posted.headers.get("location")!, api.issuer).origin).toBe(api.issuer);
    const consent = await visit(jar, new URL(posted.headers.get("location")!, api.issuer).href);
    const next = new URL(consent.headers.get("location")!, api.issuer);
    const consentCsrf = /name="csrf" value="([^"]+)"/.exec(await (await visit(jar, next.href)).text())![1]!;
    const abort = await visit(jar, `${next.href}/abort?returnTo=https://evil.example/`, { method: "POST", body: new URLSearchParams({ csrf: consentCsrf, returnTo: "https://evil.example/" }), headers: { "content-type": "application/x-www-form-urlencoded" } });
    expect(new URL(abort.headers.get("location")!, api.issuer).origin).toBe(api.issuer);
  });
});

describe("the interaction pages", () => {
  /** A new user and the sign-in page of web-app's interaction, asked for in `language`. */
  async function interactionPage(label: string, language: string): Promise<{ email: string; jar: CookieJar; interaction: string; page: Response; html: string }> {
    const email = uniqueEmail(label);
    await register(graphql, { email });
    const config = await rp("web-app");
    const url = openid.buildAuthorizationUrl(config, { redirect_uri: CALLBACK, scope: "openid email", code_challenge: await openid.calculatePKCECodeChallenge(openid.randomPKCECodeVerifier()), code_challenge_method: "S256", state: "s" });
    const jar = new CookieJar();
    const first = await visit(jar, url.href);
    const interaction = new URL(first.headers.get("location")!, api.issuer).href;
    const page = await visit(jar, interaction, { headers: { "accept-language": language } });
    return { email, jar, interaction, page, html: await page.text() };
  }

  it("are hosted pages: their layout, stylesheet and brand, under their CSP (no inline script) that lets the form reach the client's redirect URI", async () => {
    const { page, html } = await interactionPage("oauth-kit", "en");
    expect(html).toMatch(/<html lang="en">/);
    expect(html).toContain('<link rel="stylesheet" href="/auth/assets/pages.css">');
    expect(html).toContain('<header class="brand">');
    expect(html).toContain("to continue to App web-app");
    const csp = page.headers.get("content-security-policy")!;
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("style-src 'self'");
    expect(csp).not.toContain("unsafe");
    expect(csp).toContain(`form-action 'self' ${new URL(CALLBACK).origin}`);
    expect((await fetch(`${api.issuer}/auth/assets/pages.css`)).status).toBe(200);
  });

  it("speak German for Accept-Language de, and show a refused password next to its field with the API's reason", async () => {
    const { email, jar, interaction, html } = await interactionPage("oauth-de", "de-DE,de;q=0.9,en;q=0.5");
    expect(html).toMatch(/<html lang="de">/);
    expect(html).toContain("<h1>Anmelden</h1>");
    expect(html).toContain('<label for="field-email">E-Mail</label>');
    const csrf = /name="csrf" value="([^"]+)"/.exec(html)![1]!;
    const refused = await visit(jar, `${interaction}/login`, {
      method: "POST",
      body: new URLSearchParams({ csrf, email, password: "not the password" }),
      headers: { "content-type": "application/x-www-form-urlencoded", "accept-language": "de" },
    });
    expect(refused.status).toBe(401);
    const again = await refused.text();
    expect(again).toContain("Bitte prüfen Sie das Formular");
    expect(again).toMatch(/<p class="error" id="field-password-error">[^<]+<span class="reason">\(INVALID_CREDENTIALS\)<\/span><\/p>/);
    expect(again).toMatch(/id="field-password"[^>]*aria-invalid="true"/);
    expect(again).toContain(`value="${email}"`);
  });

  it("answer a post without the interaction's CSRF token with the refusal page, in the browser's language", async () => {
    const { jar, interaction } = await interactionPage("oauth-csrf", "en");
    const forged = await visit(jar, `${interaction}/login`, { method: "POST", body: new URLSearchParams({ csrf: "x", email: "a@example.com", password: PASSWORD }), headers: { "content-type": "application/x-www-form-urlencoded", "accept-language": "de" } });
    expect(forged.status).toBe(403);
    expect(await forged.text()).toContain("<h1>Anmeldung abgelehnt</h1>");
  });

  it("keep their stylesheet with HOSTED_PAGES=off, while /auth/sign-in is gone", async () => {
    const bare = await startOAuthApi(redis.url, { HOSTED_PAGES: "off" });
    try {
      expect((await fetch(`${bare.issuer}/auth/sign-in`)).status).toBe(404);
      const css = await fetch(`${bare.issuer}/auth/assets/pages.css`);
      expect(css.status).toBe(200);
      expect(css.headers.get("content-type")).toContain("text/css");
    } finally {
      await bare.stop();
    }
  });
});

describe("RP-initiated logout", () => {
  it("ends the session here too: its tokens go inactive", async () => {
    const { config, tokens, jar } = await signIn();
    const end = openid.buildEndSessionUrl(config, { id_token_hint: tokens.id_token!, post_logout_redirect_uri: CALLBACK });
    const confirm = await visit(jar, end.href);
    const html = await confirm.text();
    const action = /<form[^>]*action="([^"]+)"/.exec(html)![1]!;
    const xsrf = /name="xsrf" value="([^"]+)"/.exec(html)![1]!;
    const done = await visit(jar, new URL(action, api.issuer).href, { method: "POST", body: new URLSearchParams({ xsrf, logout: "yes" }), headers: { "content-type": "application/x-www-form-urlencoded" } });
    expect(done.headers.get("location")).toMatch(new RegExp(`^${CALLBACK}`));
    expect(await active(config, tokens.access_token)).toBe(false);
    const sid = String(jose.decodeJwt(tokens.access_token).sid);
    await waitFor(() => signOuts.some((ended) => ended.sessionId === sid));
    expect(signOuts.find((ended) => ended.sessionId === sid)).toMatchObject({ clientIds: ["web-app"] });
    expect((await send(graphql, MeDocument, {}, { token: tokens.access_token })).error?.reason).toBe("TOKEN_REVOKED");
  });
});

describe("administration (ADMIN) and the user's apps", () => {
  const input = { name: "Partner portal", redirectUris: [CALLBACK], grantTypes: ["authorization_code", "refresh_token"], scopes: ["openid", "email", "api"] };

  it("registers a client whose secret is shown once and stored only hashed; non-admins are refused", async () => {
    const admin = await login(graphql, ADMIN_EMAIL);
    const created = await send(graphql, CreateOAuthClientDocument, { input }, { token: admin.accessToken });
    const { clientId, clientSecret } = created.data!.createOAuthClient;
    expect(clientSecret).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const stored = await redis.client.get(`auth:{directory}:oauth-client:${clientId}`);
    expect(stored).not.toContain(clientSecret!);
    const listed = await send(graphql, OAuthClientsDocument, { first: 100 }, { token: admin.accessToken });
    expect(listed.data!.oauthClients.nodes.map((client) => client.clientId)).toContain(clientId);
    const user = await register(graphql, { email: uniqueEmail("oauth-nonadmin") });
    expect((await send(graphql, CreateOAuthClientDocument, { input }, { token: user.accessToken })).error?.code).toBe("FORBIDDEN");
    const bad = await send(graphql, CreateOAuthClientDocument, { input: { ...input, grantTypes: ["implicit"] } }, { token: admin.accessToken });
    expect(bad.error?.code).toBe("BAD_USER_INPUT");
    const fragment = await send(graphql, CreateOAuthClientDocument, { input: { ...input, redirectUris: ["https://app.example.com/cb#x"] } }, { token: admin.accessToken });
    expect(fragment.error?.code).toBe("BAD_USER_INPUT");
  });

  it("lists the apps a user allowed, and revokeAppAccess ends the grant and its tokens", async () => {
    const admin = await login(graphql, ADMIN_EMAIL);
    const { clientId, clientSecret } = (await send(graphql, CreateOAuthClientDocument, { input }, { token: admin.accessToken })).data!.createOAuthClient;
    const { config, tokens, email } = await signIn(clientId, "openid email api", undefined, clientSecret!);
    const own = await login(graphql, email);
    const apps = await send(graphql, AuthorizedAppsDocument, {}, { token: own.accessToken });
    expect(apps.data!.me.authorizedApps).toEqual([{ clientId, name: "Partner portal", scopes: expect.arrayContaining(["openid", "email", "api"]), grantedAt: expect.any(String) }]);
    expect((await send(graphql, RevokeAppAccessDocument, { clientId }, { token: own.accessToken })).data?.revokeAppAccess).toBe(true);
    expect(await active(config, tokens.access_token)).toBe(false);
    expect((await send(graphql, MeDocument, {}, { token: tokens.access_token })).error?.reason).toBe("TOKEN_REVOKED");
    await expect(openid.refreshTokenGrant(config, tokens.refresh_token!)).rejects.toMatchObject({ error: "invalid_grant" });
    expect((await send(graphql, AuthorizedAppsDocument, {}, { token: own.accessToken })).data!.me.authorizedApps).toEqual([]);
    expect((await send(graphql, MeDocument, {}, { token: own.accessToken })).data?.me.email).toBe(email);
  });

  it("revokes a grant's access tokens before it removes the grant: a removal that fails halfway leaves them refused everywhere", async () => {
    await registerClient(api, { clientId: "fail-closed-app", redirectUris: [CALLBACK] }, SECRET);
    const { config, tokens, email } = await signIn("fail-closed-app");
    const own = await login(graphql, email);
    // The removal's last step fails (the client's index of grants is no set any more, WRONGTYPE),
    // after the grant and its records are gone: as a process that dies between the steps leaves it.
    const index = keys.oauthClientGrants("fail-closed-app");
    await redis.client.del(index);
    await redis.client.set(index, "not a set");
    const reader = new Redis(redis.url);
    try {
      const revoked = await send(graphql, RevokeAppAccessDocument, { clientId: "fail-closed-app" }, { token: own.accessToken });
      expect(revoked.status).toBe(500);
      expect(await api.store.oauthGrantsOfAccount(own.user.id, 10)).toEqual([]);
      expect(await active(config, tokens.access_token)).toBe(false);
      expect((await send(graphql, MeDocument, {}, { token: tokens.access_token })).error?.reason).toBe("TOKEN_REVOKED");
      const verifier = createVerifier({ issuer: [TEST_ISSUER, api.issuer], audience: TEST_AUDIENCE, keys: { url: `${api.issuer}/oauth/jwks` }, redis: reader });
      expect(await verifier.verify(tokens.access_token)).toMatchObject({ ok: false, reason: "TOKEN_REVOKED" });
    } finally {
      reader.disconnect();
      await redis.client.del(index);
    }
  });

  it("issues no access token from a grant removed while the token was being made", async () => {
    const { config, tokens, email } = await signIn();
    const own = await login(graphql, email);
    // revokeAppAccess runs to its end after oidc-provider found the grant for this refresh, and
    // before the new access token's record is saved: the removal cannot have seen that record.
    seam.arm(async () => {
      expect((await send(graphql, RevokeAppAccessDocument, { clientId: "web-app" }, { token: own.accessToken })).data?.revokeAppAccess).toBe(true);
    });
    try {
      await expect(openid.refreshTokenGrant(config, tokens.refresh_token!)).rejects.toMatchObject({ error: "invalid_grant" });
    } finally {
      seam.disarm();
    }
    expect(await active(config, tokens.access_token)).toBe(false);
  });

  it("rotates a secret (the old one stops at once), updates a client, and deleting it ends its grants", async () => {
    const admin = await login(graphql, ADMIN_EMAIL);
    const { clientId, clientSecret } = (await send(graphql, CreateOAuthClientDocument, { input }, { token: admin.accessToken })).data!.createOAuthClient;
    const { config, tokens } = await signIn(clientId, "openid email api", undefined, clientSecret!);
    const rotated = (await send(graphql, RotateOAuthClientSecretDocument, { clientId }, { token: admin.accessToken })).data!.rotateOAuthClientSecret;
    await expect(openid.tokenIntrospection(config, tokens.access_token)).rejects.toThrow();
    const current = await rp(clientId, rotated.clientSecret!);
    expect(await active(current, tokens.access_token)).toBe(true);
    const updated = await send(graphql, UpdateOAuthClientDocument, { clientId, input: { ...input, name: "Renamed portal" } }, { token: admin.accessToken });
    expect(updated.data?.updateOAuthClient.name).toBe("Renamed portal");
    expect((await send(graphql, DeleteOAuthClientDocument, { clientId }, { token: admin.accessToken })).data?.deleteOAuthClient).toBe(true);
    expect((await send(graphql, MeDocument, {}, { token: tokens.access_token })).error?.reason).toBe("TOKEN_REVOKED");
    expect((await send(graphql, DeleteOAuthClientDocument, { clientId }, { token: admin.accessToken })).error?.reason).toBe("OAUTH_CLIENT_NOT_FOUND");
  });
});

describe("the verifier package", () => {
  it("accepts the provider's access tokens with [JWT_ISSUER, OAUTH_ISSUER], and refuses them after a sign-out here", async () => {
    const reader = new Redis(redis.url);
    try {
      const { tokens, email } = await signIn();
      const verifier = createVerifier({ issuer: [TEST_ISSUER, api.issuer], audience: TEST_AUDIENCE, keys: { url: `${api.issuer}/oauth/jwks` }, redis: reader });
      const outcome = await verifier.verify(tokens.access_token);
      expect(outcome).toMatchObject({ ok: true, identity: { sessionId: jose.decodeJwt(tokens.access_token).sid, scope: expect.stringContaining("api"), roles: ["USER"] } });
      const ownIssuerOnly = createVerifier({ issuer: TEST_ISSUER, audience: TEST_AUDIENCE, keys: { url: `${api.issuer}/oauth/jwks` }, redis: reader });
      expect(await ownIssuerOnly.verify(tokens.access_token)).toMatchObject({ ok: false, reason: "INVALID_TOKEN" });
      const own = await login(graphql, email);
      await send(graphql, LogoutAllDocument, {}, { token: own.accessToken });
      expect(await verifier.verify(tokens.access_token)).toMatchObject({ ok: false, reason: "TOKEN_REVOKED" });
    } finally {
      reader.disconnect();
    }
  });
});

describe("requireMfa", () => {
  it("refuses a sign-in without a second factor, and puts acr aal2 and amr otp in the ID token with one", async () => {
    await registerClient(api, { clientId: "mfa-app", redirectUris: [CALLBACK], scopes: ["openid", "email", "api"], requireMfa: true }, SECRET);
    const config = await rp("mfa-app");
    const verifier = openid.randomPKCECodeVerifier();
    const url = () => openid.buildAuthorizationUrl(config, { redirect_uri: CALLBACK, scope: "openid email", code_challenge: "", code_challenge_method: "S256", state: "s" });
    const withChallenge = async () => {
      const target = url();
      target.searchParams.set("code_challenge", await openid.calculatePKCECodeChallenge(verifier));
      return target.href;
    };
    const plain = uniqueEmail("oauth-nomfa");
    await register(graphql, { email: plain });
    const refused = new URL(await authorizeInBrowser(new CookieJar(), await withChallenge(), plain, PASSWORD, CALLBACK));
    expect(refused.searchParams.get("error")).toBe("access_denied");

    const email = uniqueEmail("oauth-mfa");
    const registered = await register(graphql, { email });
    const secret = (await send(graphql, EnrollTotpDocument, { currentPassword: PASSWORD }, { token: registered.accessToken })).data!.enrollTotp.secret;
    await send(graphql, ConfirmTotpDocument, { code: totpCode(secret, stepAt(Date.now())) }, { token: registered.accessToken });
    const callback = await authorizeInBrowser(new CookieJar(), await withChallenge(), email, PASSWORD, CALLBACK, { code: () => totpCode(secret, stepAt(Date.now()) + 1) });
    const tokens = await openid.authorizationCodeGrant(config, new URL(callback), { pkceCodeVerifier: verifier, expectedState: "s" });
    expect(tokens.claims()).toMatchObject({ acr: "aal2", amr: expect.arrayContaining(["pwd", "otp"]) });
    expect(jose.decodeJwt(tokens.access_token)).toMatchObject({ aal: "aal2" });
  });
});

describe("a pending second factor on the interaction", () => {
  it("dies with the session its password started: after a password change the page asks to sign in again, and the new password goes on", async () => {
    const email = uniqueEmail("oauth-pending-mfa");
    const registered = await register(graphql, { email });
    const secret = (await send(graphql, EnrollTotpDocument, { currentPassword: PASSWORD }, { token: registered.accessToken })).data!.enrollTotp.secret;
    const confirmed = (await send(graphql, ConfirmTotpDocument, { code: totpCode(secret, stepAt(Date.now())) }, { token: registered.accessToken })).data!.confirmTotp.auth;
    const config = await rp("web-app");
    const jar = new CookieJar();
    const authorize = openid.buildAuthorizationUrl(config, { redirect_uri: CALLBACK, scope: "openid email", code_challenge: await openid.calculatePKCECodeChallenge(openid.randomPKCECodeVerifier()), code_challenge_method: "S256", state: "s" });
    const interaction = `${api.issuer}${(await visit(jar, authorize.href)).headers.get("location")!}`;
    const csrf = /name="csrf" value="([^"]+)"/.exec(await (await visit(jar, interaction)).text())![1]!;
    const post = (path: string, form: Record<string, string>) =>
      visit(jar, `${interaction}${path}`, { method: "POST", body: new URLSearchParams({ csrf, ...form }), headers: { "content-type": "application/x-www-form-urlencoded" } });
    expect((await post("/login", { email, password: PASSWORD })).status).toBe(303);
    expect(await (await visit(jar, interaction)).text()).toContain('name="code"');

    // The password that vouched for the pending session changes: that session ends, and the code it waited for with it.
    const changed = await send(graphql, ChangePasswordDocument, { currentPassword: PASSWORD, newPassword: `${PASSWORD} 2` }, { token: confirmed.accessToken });
    expect(changed.errors).toBeUndefined();
    const again = await (await visit(jar, interaction)).text();
    expect(again).toContain('name="password"');
    expect(again).toContain("(SIGN_IN_AGAIN)");
    expect(await (await post("/mfa", { code: totpCode(secret, stepAt(Date.now()) + 1) })).text()).toContain("(SIGN_IN_AGAIN)");

    const callback = await authorizeInBrowser(jar, interaction, email, `${PASSWORD} 2`, CALLBACK, { code: () => totpCode(secret, stepAt(Date.now()) + 1) });
    expect(new URL(callback).searchParams.get("code")).toEqual(expect.any(String));
  });
});

describe("the back-channel logout seam", () => {
  it("is told the apps of the user's grants when logoutAll ends their sessions", async () => {
    const { email, tokens } = await signIn();
    await signIn("other-app", "openid email api", email);
    const userId = String(jose.decodeJwt(tokens.access_token).sub);
    const own = await login(graphql, email);
    await send(graphql, LogoutAllDocument, {}, { token: own.accessToken });
    await waitFor(() => signOuts.some((ended) => ended.userId === userId && ended.sessionId === null));
    expect(signOuts.find((ended) => ended.userId === userId && ended.sessionId === null)!.clientIds.slice().sort()).toEqual(["other-app", "web-app"]);
  });
});

async function waitFor(condition: () => boolean, withinMs = 2000): Promise<void> {
  const until = Date.now() + withinMs;
  while (!condition()) {
    if (Date.now() > until) throw new Error("timed out waiting");
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe("DPoP-bound tokens (RFC 9449, issue 30)", () => {
  it("binds the access token of a client that sends a proof at the token endpoint; /graphql then needs a proof from that key", async () => {
    const discovery = (await (await fetch(`${api.issuer}/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
    expect(discovery.dpop_signing_alg_values_supported).toEqual(["ES256", "RS256", "EdDSA"]);
    const key = await dpopKey();
    const { callback, verifier } = await codeFor("web-app", CALLBACK, "openid api");
    const response = await fetch(`${api.issuer}/oauth/token`, {
      method: "POST",
      headers: {
        "content-type": "application/x-www-form-urlencoded",
        authorization: `Basic ${Buffer.from(`web-app:${SECRET}`).toString("base64")}`,
        dpop: await proof(key, { htu: `${api.issuer}/oauth/token` }),
      },
      body: new URLSearchParams({ grant_type: "authorization_code", code: callback.searchParams.get("code")!, redirect_uri: CALLBACK, code_verifier: verifier }),
    });
    const tokens = (await response.json()) as { access_token: string; token_type: string };
    expect(response.status).toBe(200);
    expect(tokens.token_type).toBe("DPoP");
    const jwks = jose.createRemoteJWKSet(new URL(`${api.issuer}/oauth/jwks`));
    const { payload } = await jose.jwtVerify(tokens.access_token, jwks, { issuer: api.issuer, algorithms: ["ES256"] });
    expect(payload.cnf).toEqual({ jkt: key.jkt });

    expect((await send(graphql, MeDocument, {}, { token: tokens.access_token })).error?.reason).toBe("DPOP_PROOF_REQUIRED");
    const other = await dpopKey();
    expect((await send(graphql, MeDocument, {}, { headers: dpopHeaders(tokens.access_token, await proof(other, { htu: graphql, accessToken: tokens.access_token })) })).error?.reason).toBe("INVALID_DPOP_PROOF");
    const used = await proof(key, { htu: graphql, accessToken: tokens.access_token });
    const bound = await send(graphql, MeDocument, {}, { headers: dpopHeaders(tokens.access_token, used) });
    expect(bound.error).toBeUndefined();
    expect(bound.data?.me.id).toBe(payload.sub);
    // The same replay keys as the API's own bound tokens: a proof works once.
    expect((await send(graphql, MeDocument, {}, { headers: dpopHeaders(tokens.access_token, used) })).error?.reason).toBe("DPOP_PROOF_REPLAYED");

    const introspection = await openid.tokenIntrospection(await rp("web-app"), tokens.access_token);
    expect(introspection).toMatchObject({ active: true, token_type: "DPoP", cnf: { jkt: key.jkt } });

    // The verifier package enforces the binding the same way, with the same replay keys.
    const reader = new Redis(redis.url);
    try {
      const verifier = createVerifier({ issuer: [TEST_ISSUER, api.issuer], audience: TEST_AUDIENCE, keys: { url: `${api.issuer}/oauth/jwks` }, redis: reader });
      const resource = "https://resource.example/graphql";
      expect(await verifier.verify(tokens.access_token)).toMatchObject({ ok: false, reason: "DPOP_PROOF_REQUIRED" });
      const fresh = await proof(key, { htu: resource, accessToken: tokens.access_token });
      expect(await verifier.verify(tokens.access_token, { method: "POST", url: resource, proof: fresh, scheme: "DPoP" })).toMatchObject({ ok: true });
      expect(await verifier.verify(tokens.access_token, { method: "POST", url: resource, proof: fresh, scheme: "DPoP" })).toMatchObject({ ok: false, reason: "DPOP_PROOF_REPLAYED" });
    } finally {
      reader.disconnect();
    }
  });
});
