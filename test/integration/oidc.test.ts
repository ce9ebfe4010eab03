import {
  ConfirmTotpDocument,
  EnrollTotpDocument,
  LinkIdentityUrlDocument,
  LoginDocument,
  MeDocument,
  MyIdentitiesDocument,
  RefreshWithCookieDocument,
  SessionsDocument,
  SignInProvidersDocument,
  UnlinkIdentityDocument,
  VerifyMfaDocument,
  LogoutAllDocument,
} from "../../schema/generated/graphql";
import { Redis } from "ioredis";
import { keys } from "@revocable-auth/verifier/internal";
import { startApi, type TestApi } from "../support/api";
import { login, PASSWORD, register, send, uniqueEmail } from "../support/client";
import { CookieJar, signInAtProvider, startProvider, visit, type ProviderAccount, type TestProvider } from "../support/oidc";
import { freePort, startRedis, type TestRedis } from "../support/redis";
import { closedWithin, openLive } from "../support/live";
import { stepAt, totpCode } from "../support/totp";
import { startGitHub, type TestGitHub } from "../support/github";

// Two real OpenID Providers (panva's oidc-provider, test/support/oidc-provider.mjs) with different
// issuers, and the API on Redis; a browser is played with a cookie jar.
const APP = "http://localhost:3000";
const accounts: Record<string, ProviderAccount> = {};
const account = (label: string, emailVerified = true, email = uniqueEmail(label)) => {
  const login = `${label}-${Object.keys(accounts).length}`;
  accounts[login] = { email, email_verified: emailVerified };
  return { login, email };
};
// Made before the providers start: they read their account list once.
const alice = account("alice");
const unverified = account("unverified", false);
const newcomer = account("newcomer");
const existingVerified = account("existing-verified");
const existingUnverified = account("existing-unverified");
const lateUnverified = account("late-unverified", false);
const repeat = account("repeat");
const leaver = account("leaver");
const linker = account("linker");
const lateLinker = account("late-linker");
const enrolled = account("enrolled");
const offboarded = account("offboarded");
const elsewhere = account("elsewhere");
const replayedLogout = account("replayed-logout");
const retried = account("retried-logout");
const lastTwo = account("last-two");
const forcedVictim = account("forced-victim");
const forcedAttacker = account("forced-attacker");
const watched = account("watched");
const attacker = Object.fromEntries(["swap", "replay", "mixup", "mixiss", "alg", "aud", "iat"].map((name) => [name, account(name)]));

let redis: TestRedis, api: TestApi, corp: TestProvider, other: TestProvider, github: TestGitHub;
let callbackBase: string;

beforeAll(async () => {
  const port = await freePort();
  callbackBase = `http://localhost:${port}/auth/oidc`;
  const client = (name: string) => ({ client_id: `api-${name}`, client_secret: `secret-of-${name}-0123456789`, redirect_uris: [`${callbackBase}/${name}/callback`] });
  [redis, corp, other, github] = await Promise.all([
    startRedis(),
    startProvider({
      clients: [{ ...client("corp"), backchannel_logout_uri: `${callbackBase}/corp/backchannel-logout`, backchannel_logout_session_required: true }],
      accounts,
      backchannelLogout: true,
    }),
    startProvider({ clients: [client("other")], accounts }),
    startGitHub({ id: "gh-client", secret: "gh-secret" }),
  ]);
  api = await startApi(redis.url, {
    PORT: String(port),
    PUBLIC_URL: `http://localhost:${port}`,
    APP_URL: APP,
    OIDC_PROVIDERS: "corp,other,github",
    OIDC_GITHUB_CLIENT_ID: "gh-client",
    OIDC_GITHUB_CLIENT_SECRET: "gh-secret",
    OIDC_GITHUB_AUTHORIZATION_URL: `${github.url}/login/oauth/authorize`,
    OIDC_GITHUB_TOKEN_URL: `${github.url}/login/oauth/access_token`,
    OIDC_GITHUB_API_URL: github.url,
    OIDC_CORP_ISSUER: corp.issuer,
    OIDC_CORP_CLIENT_ID: "api-corp",
    OIDC_CORP_CLIENT_SECRET: "secret-of-corp-0123456789",
    OIDC_CORP_LABEL: "Corp SSO",
    OIDC_OTHER_ISSUER: other.issuer,
    OIDC_OTHER_CLIENT_ID: "api-other",
    OIDC_OTHER_CLIENT_SECRET: "secret-of-other-0123456789",
  });
}, 60_000);
afterAll(async () => {
  await api?.stop();
  await Promise.all([corp?.stop(), other?.stop(), github?.stop(), redis?.destroy()]);
});

/** GET start: the provider's URL and the flow cookie in the jar. */
async function start(jar: CookieJar, provider = "corp", redirectTo = `${APP}/signed-in`): Promise<string> {
  const response = await visit(jar, `${callbackBase}/${provider}/start?redirect_to=${encodeURIComponent(redirectTo)}`);
  expect(response.status).toBe(302);
  return response.headers.get("location")!;
}

/** The whole sign-in up to the callback URL the provider sends the browser to (not yet visited). */
async function untilCallback(jar: CookieJar, login: string, provider = "corp"): Promise<string> {
  return signInAtProvider(jar, await start(jar, provider), login, `${callbackBase}/${provider}/callback`);
}

/** Visits the callback: where it sends the browser, and the refresh cookie it set. */
async function callback(jar: CookieJar, url: string): Promise<{ status: number; location: URL; refresh: string | undefined }> {
  const response = await visit(jar, url);
  const refresh = response.headers.getSetCookie().find((line) => line.startsWith("refresh_token="));
  return { status: response.status, location: new URL(response.headers.get("location") ?? "about:blank"), refresh: refresh && /^refresh_token=([^;]*)/.exec(refresh)![1] };
}

async function signIn(login: string, provider = "corp") {
  const jar = new CookieJar();
  return callback(jar, await untilCallback(jar, login, provider));
}

async function refreshAndMe(refreshToken: string) {
  const refreshed = await send(api.url, RefreshWithCookieDocument, {}, { headers: { cookie: `refresh_token=${refreshToken}` } });
  expect(refreshed.errors).toBeUndefined();
  const payload = refreshed.data!.refresh;
  const me = await send(api.url, MeDocument, {}, { token: payload.accessToken });
  return { payload, me: me.data?.me, errors: me.errors };
}

/** linkIdentityUrl from a browser: its answer sets the link cookie in that browser's jar. */
async function askLinkUrl(jar: CookieJar, token: string, provider = "corp", redirectTo = `${APP}/linked`) {
  const response = await fetch(api.url, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}`, cookie: jar.header(api.url) },
    body: JSON.stringify({ query: "mutation ($provider: String!, $redirectTo: String!) { linkIdentityUrl(provider: $provider, redirectTo: $redirectTo) }", variables: { provider, redirectTo } }),
  });
  jar.store(api.url, response.headers);
  return (await response.json()) as { data?: { linkIdentityUrl: string }; errors?: { extensions?: Record<string, unknown> }[] };
}

const claimsOf = (token: string) => JSON.parse(Buffer.from(token.split(".")[1]!, "base64url").toString()) as Record<string, unknown>;

describe("sign-in with an OpenID provider", () => {
  it("lists the configured providers with their labels", async () => {
    const { data } = await send(api.url, SignInProvidersDocument);
    expect(data!.signInProviders).toEqual([
      { id: "corp", label: "Corp SSO" },
      { id: "other", label: "Other" },
      { id: "github", label: "GitHub" },
    ]);
  });

  it("sends the browser to the provider with PKCE S256, state, nonce and the registered callback", async () => {
    const jar = new CookieJar();
    const url = new URL(await start(jar));
    expect(url.origin).toBe(corp.issuer);
    expect(url.searchParams.get("code_challenge_method")).toBe("S256");
    expect(url.searchParams.get("code_challenge")).toMatch(/^[\w-]{43}$/);
    expect(url.searchParams.get("state")).toBeTruthy();
    expect(url.searchParams.get("nonce")).toBeTruthy();
    expect(url.searchParams.get("redirect_uri")).toBe(`${callbackBase}/corp/callback`);
    expect(jar.get(callbackBase, "oidc_flow")).toMatch(/^[\w-]{43}$/);
  });

  it("creates the account, answers 303 to redirect_to with the refresh cookie and no token in the URL; refresh and me work at aal1 fed", async () => {
    const jar = new CookieJar();
    const callbackUrl = await untilCallback(jar, alice.login);
    expect(new URL(callbackUrl).searchParams.get("iss")).toBe(corp.issuer);
    const { status, location, refresh } = await callback(jar, callbackUrl);
    expect(status).toBe(303);
    expect(location.href).toBe(`${APP}/signed-in`);
    expect(refresh).toBeTruthy();
    const { payload, me } = await refreshAndMe(refresh!);
    expect(me).toMatchObject({ email: alice.email, emailVerified: true });
    expect(claimsOf(payload.accessToken)).toMatchObject({ aal: "aal1", amr: ["fed"] });
    // The flow cookie is gone after the callback.
    expect(jar.get(callbackBase, "oidc_flow")).toBeUndefined();
  });

  it("signs the same provider subject in to the same account every time", async () => {
    const first = await refreshAndMe((await signIn(repeat.login)).refresh!);
    const second = await refreshAndMe((await signIn(repeat.login)).refresh!);
    expect(second.me!.id).toBe(first.me!.id);
  });

  it("links to an existing account when both the provider and the account verified the address", async () => {
    const { email } = existingVerified;
    const registered = await register(api.url, { email });
    // Verified through the store's own transition: the mailed link is tested in account-email.test.ts.
    expect(await markVerified(registered.user.id, email)).toBe(true);
    const live = await openLive(api.url, registered.accessToken);
    try {
      const { location, refresh } = await signIn(existingVerified.login);
      expect(location.searchParams.get("error")).toBeNull();
      const { me, payload } = await refreshAndMe(refresh!);
      expect(me!.id).toBe(registered.user.id);
      // The password session hears of the link (by no session of its own) and of the sign-in.
      expect((await live.eventsAtLeast(2)).map(({ type, sessionId, provider }) => ({ type, sessionId, provider }))).toEqual([
        { type: "IDENTITY_LINKED", sessionId: null, provider: "corp" },
        { type: "SIGNED_IN", sessionId: claimsOf(payload.accessToken).sid, provider: "corp" },
      ]);
    } finally {
      await live.dispose();
    }
  });

  it("answers OIDC_ACCOUNT_EXISTS when the address belongs to an account that has not verified it", async () => {
    await register(api.url, { email: existingUnverified.email });
    const { status, location, refresh } = await signIn(existingUnverified.login);
    expect(status).toBe(303);
    expect(location.href).toBe(`${APP}/signed-in?error=OIDC_ACCOUNT_EXISTS`);
    expect(refresh).toBeUndefined();
  });

  it("answers OIDC_ACCOUNT_EXISTS when the provider has not verified an address an account holds", async () => {
    await register(api.url, { email: lateUnverified.email });
    const { location } = await signIn(lateUnverified.login);
    expect(location.searchParams.get("error")).toBe("OIDC_ACCOUNT_EXISTS");
  });

  it("answers OIDC_EMAIL_NOT_VERIFIED and creates no account when the provider has not verified a new address", async () => {
    const { location, refresh } = await signIn(unverified.login);
    expect(location.searchParams.get("error")).toBe("OIDC_EMAIL_NOT_VERIFIED");
    expect(refresh).toBeUndefined();
    expect(await api.store.findUserIdByEmail(unverified.email)).toBeNull();
  });

  it("gives an account a provider created no password", async () => {
    await signIn(newcomer.login);
    const attempt = await send(api.url, LoginDocument, { input: { email: newcomer.email, password: PASSWORD } });
    expect(attempt.errors?.[0]?.extensions?.code).toBe("UNAUTHENTICATED");
  });
});

describe("attacks on the callback", () => {
  it("refuses a redirect_to that is not allowed with 400 REDIRECT_NOT_ALLOWED, redirecting nowhere", async () => {
    for (const target of ["https://evil.example/", "http://localhost:3000.evil.example/", "//evil.example/", "javascript:alert(1)"]) {
      const response = await visit(new CookieJar(), `${callbackBase}/corp/start?redirect_to=${encodeURIComponent(target)}`);
      expect(response.status).toBe(400);
      expect(response.headers.get("location")).toBeNull();
      expect(((await response.json()) as { errors: { extensions: { code: string } }[] }).errors[0]!.extensions.code).toBe("REDIRECT_NOT_ALLOWED");
    }
  });

  it("refuses a swapped state: the attacker's callback in the victim's browser", async () => {
    const victim = new CookieJar();
    await start(victim);
    const attackerJar = new CookieJar();
    const attackersCallback = await untilCallback(attackerJar, attacker.swap!.login);
    const { location, refresh } = await callback(victim, attackersCallback);
    expect(location.searchParams.get("error")).toBe("OIDC_STATE_MISMATCH");
    expect(refresh).toBeUndefined();
  });

  it("refuses a callback without the flow cookie", async () => {
    const url = await untilCallback(new CookieJar(), attacker.swap!.login);
    const { location } = await callback(new CookieJar(), url);
    expect(location.href).toBe(`${APP}/?error=OIDC_STATE_MISMATCH`);
  });

  it("refuses a replayed callback code, with the same flow and with a new one", async () => {
    const jar = new CookieJar();
    const url = await untilCallback(jar, attacker.replay!.login);
    const flow = jar.get(callbackBase, "oidc_flow")!;
    expect((await callback(jar, url)).refresh).toBeTruthy();
    jar.set(callbackBase, "oidc_flow", flow);
    expect((await callback(jar, url)).location.searchParams.get("error")).toBe("OIDC_STATE_MISMATCH");
    // A fresh flow, and the old code under its state: the provider refuses the code a second time.
    const fresh = new URL(await start(jar));
    const replayed = new URL(url);
    replayed.searchParams.set("state", fresh.searchParams.get("state")!);
    const { location, refresh } = await callback(jar, replayed.href);
    expect(location.searchParams.get("error")).toBe("OIDC_PROVIDER_ERROR");
    expect(refresh).toBeUndefined();
  });

  it("refuses a mix-up: the other provider's code and issuer at this provider's callback (RFC 9207)", async () => {
    const jar = new CookieJar();
    const corpState = new URL(await start(jar, "corp")).searchParams.get("state")!;
    const corpFlow = jar.get(callbackBase, "oidc_flow")!;
    const otherCallback = new URL(await untilCallback(new CookieJar(), attacker.mixup!.login, "other"));
    const forged = new URL(`${callbackBase}/corp/callback`);
    forged.search = otherCallback.search;
    forged.searchParams.set("state", corpState);
    jar.set(callbackBase, "oidc_flow", corpFlow);
    const { location, refresh } = await callback(jar, forged.href);
    expect(location.searchParams.get("error")).toBe("OIDC_PROVIDER_ERROR");
    expect(refresh).toBeUndefined();
  });

  it.each([
    ["an ID token that names the other issuer", "mixiss", () => ({ claims: { iss: other.issuer } })],
    ["an alg change (PS256 with the provider's own key, where discovery pins RS256)", "alg", () => ({ alg: "PS256" })],
    ["an aud for another client", "aud", () => ({ claims: { aud: "api-other" } })],
    ["a stale iat", "iat", () => ({ claims: { iat: Math.floor(Date.now() / 1000) - 3600, exp: Math.floor(Date.now() / 1000) + 600 } })],
  ])("refuses %s", async (_name, who, change) => {
    const jar = new CookieJar();
    const url = await untilCallback(jar, attacker[who]!.login);
    await corp.tamper(change());
    const { location, refresh } = await callback(jar, url);
    expect(location.searchParams.get("error")).toBe("OIDC_PROVIDER_ERROR");
    expect(refresh).toBeUndefined();
  });
});

// GitHub's shape (OAuth 2.0, no OpenID) against a loopback server that follows GitHub's documented
// endpoints and answers (test/support/github.ts), not GitHub itself.
describe("GitHub", () => {
  it("signs in with the verified primary address from /user/emails, as the same account every time", async () => {
    const email = uniqueEmail("octocat");
    github.signInAs({ id: 583231, login: "octocat", emails: [{ email: uniqueEmail("secondary"), primary: false, verified: true }, { email, primary: true, verified: true }] });
    const first = await signIn("octocat", "github");
    expect(first.location.href).toBe(`${APP}/signed-in`);
    const { me, payload } = await refreshAndMe(first.refresh!);
    expect(me).toMatchObject({ email, emailVerified: true });
    expect(claimsOf(payload.accessToken)).toMatchObject({ amr: ["fed"] });
    github.signInAs({ id: 583231, login: "octocat", emails: [{ email: uniqueEmail("changed"), primary: true, verified: true }] });
    expect((await refreshAndMe((await signIn("octocat", "github")).refresh!)).me!.id).toBe(me!.id);
  });

  it("answers OIDC_EMAIL_NOT_VERIFIED when GitHub's primary address is not verified", async () => {
    github.signInAs({ id: 9001, login: "unverified", emails: [{ email: uniqueEmail("gh-unverified"), primary: true, verified: false }] });
    expect((await signIn("unverified", "github")).location.searchParams.get("error")).toBe("OIDC_EMAIL_NOT_VERIFIED");
  });
});

describe("linked identities", () => {
  it("links a provider identity explicitly after a password sign-in, lists it in me.identities, and signs in with it", async () => {
    const user = await register(api.url, { email: linker.email });
    expect(await markVerified(user.user.id, linker.email)).toBe(true);
    const jar = new CookieJar();
    const url = await askLinkUrl(jar, user.accessToken);
    expect(url.errors).toBeUndefined();
    const started = await visit(jar, url.data!.linkIdentityUrl);
    expect(started.status).toBe(302);
    // The link URL works once.
    expect((await visit(jar, url.data!.linkIdentityUrl)).status).toBe(400);
    const { location, refresh } = await callback(jar, await signInAtProvider(jar, started.headers.get("location")!, linker.login, `${callbackBase}/corp/callback`));
    expect(location.href).toBe(`${APP}/linked`);
    expect(refresh).toBeUndefined();
    const { data } = await send(api.url, MyIdentitiesDocument, {}, { token: user.accessToken });
    expect(data!.me.identities).toEqual([{ id: `corp:${linker.login}`, provider: "corp", subject: linker.login, email: linker.email, linkedAt: expect.any(String) }]);
    const { me } = await refreshAndMe((await signIn(linker.login)).refresh!);
    expect(me!.id).toBe(user.user.id);
    const events = await api.store.readAuditEvents({ userId: user.user.id, before: null, from: null, to: null, count: 50 });
    expect(events.map((event) => [event.type, event.details.via ?? event.details.provider])).toEqual(
      expect.arrayContaining([
        ["IDENTITY_LINKED", "corp"],
        ["SIGNED_IN", "oidc:corp"],
      ]),
    );
    expect((await send(api.url, UnlinkIdentityDocument, { id: `corp:${linker.login}` }, { token: user.accessToken })).data).toEqual({ unlinkIdentity: true });
    expect((await send(api.url, MyIdentitiesDocument, {}, { token: user.accessToken })).data!.me.identities).toEqual([]);
    // The unlink is in the history too, by the session that did it.
    const after = await api.store.readAuditEvents({ userId: user.user.id, before: null, from: null, to: null, count: 50 });
    expect(after.filter((event) => event.type === "IDENTITY_UNLINKED").map((event) => [event.sessionId, event.details])).toEqual([
      [user.sessionId, { provider: "corp", identityId: `corp:${linker.login}` }],
    ]);
  });

  it("refuses to link while the account's address is unverified: a squatter's link would outlive the owner's reset", async () => {
    const user = await register(api.url);
    const url = await send(api.url, LinkIdentityUrlDocument, { provider: "corp", redirectTo: `${APP}/linked` }, { token: user.accessToken });
    expect(url.errors?.[0]?.extensions).toMatchObject({ code: "FORBIDDEN", reason: "EMAIL_NOT_VERIFIED" });
  });

  it("links nothing once the session that asked for the link has ended", async () => {
    const user = await register(api.url, { email: lateLinker.email });
    expect(await markVerified(user.user.id, lateLinker.email)).toBe(true);
    const jar = new CookieJar();
    const url = await askLinkUrl(jar, user.accessToken);
    const started = await visit(jar, url.data!.linkIdentityUrl);
    expect(started.status).toBe(302);
    // The owner notices and signs out everywhere before the intruder's provider sign-in comes back.
    expect((await send(api.url, LogoutAllDocument, {}, { token: user.accessToken })).data?.logoutAll).toBe(1);
    const { location } = await callback(jar, await signInAtProvider(jar, started.headers.get("location")!, lateLinker.login, `${callbackBase}/corp/callback`));
    expect(location.searchParams.get("error")).toBe("OIDC_STATE_MISMATCH");
    const again = await send(api.url, LoginDocument, { input: { email: lateLinker.email, password: PASSWORD } });
    expect((await send(api.url, MyIdentitiesDocument, {}, { token: again.data!.login.accessToken })).data!.me.identities).toEqual([]);
  });

  it("starts a link URL only in the browser that asked for it: opened elsewhere it links nobody (forced linking)", async () => {
    const user = await register(api.url, { email: forcedVictim.email });
    expect(await markVerified(user.user.id, forcedVictim.email)).toBe(true);
    const victim = new CookieJar();
    const url = (await askLinkUrl(victim, user.accessToken)).data!.linkIdentityUrl;
    // The attacker has the URL (a leaked log, a shoulder, a URL the victim was tricked into asking
    // for and sending on), and a link cookie of their own from asking for one themselves.
    const attacker = new CookieJar();
    const own = await register(api.url, { email: forcedAttacker.email });
    expect(await markVerified(own.user.id, forcedAttacker.email)).toBe(true);
    await askLinkUrl(attacker, own.accessToken);
    const opened = await visit(attacker, url);
    expect(opened.status).toBe(400);
    expect(opened.headers.get("location")).toBeNull();
    const body = (await opened.json()) as { errors: { message: string; extensions: { code: string } }[] };
    expect(body.errors[0]!.extensions.code).toBe("OIDC_STATE_MISMATCH");
    expect(body.errors[0]!.message).toMatch(/only in the browser that asked/);
    // Opened elsewhere, the URL is spent (for a browser without any link cookie too): the victim asks again, and nothing was linked.
    expect((await visit(new CookieJar(), url)).status).toBe(400);
    expect((await visit(victim, url)).status).toBe(400);
    const again = new CookieJar();
    const fresh = (await askLinkUrl(again, user.accessToken)).data!.linkIdentityUrl;
    expect((await visit(new CookieJar(), fresh)).status).toBe(400);
    expect((await send(api.url, MyIdentitiesDocument, {}, { token: user.accessToken })).data!.me.identities).toEqual([]);
  });

  it("refuses a link URL for a redirect that is not allowed", async () => {
    const user = await register(api.url);
    const url = await send(api.url, LinkIdentityUrlDocument, { provider: "corp", redirectTo: "https://evil.example/" }, { token: user.accessToken });
    expect(url.errors?.[0]?.extensions).toMatchObject({ code: "BAD_USER_INPUT", reason: "REDIRECT_NOT_ALLOWED" });
  });

  it("refuses to unlink the last way to sign in with LAST_CREDENTIAL", async () => {
    const { payload } = await refreshAndMe((await signIn(alice.login)).refresh!);
    const result = await send(api.url, UnlinkIdentityDocument, { id: `corp:${alice.login}` }, { token: payload.accessToken });
    expect(result.errors?.[0]?.extensions).toMatchObject({ code: "BAD_USER_INPUT", reason: "LAST_CREDENTIAL" });
    expect((await send(api.url, MyIdentitiesDocument, {}, { token: payload.accessToken })).data!.me.identities).toHaveLength(1);
  });

  it("still asks an enrolled user for the second factor: the provider sign-in is aal1 until verifyMfa", async () => {
    const user = await register(api.url, { email: enrolled.email });
    expect(await markVerified(user.user.id, enrolled.email)).toBe(true);
    const secret = (await send(api.url, EnrollTotpDocument, { currentPassword: PASSWORD }, { token: user.accessToken })).data!.enrollTotp.secret;
    const confirmed = await send(api.url, ConfirmTotpDocument, { code: totpCode(secret, stepAt(Date.now())) }, { token: user.accessToken });
    expect(confirmed.errors).toBeUndefined();
    const { payload } = await refreshAndMe((await signIn(enrolled.login)).refresh!);
    expect(claimsOf(payload.accessToken)).toMatchObject({ aal: "aal1", amr: ["fed"] });
    expect((await send(api.url, SessionsDocument, {}, { token: payload.accessToken })).errors?.[0]?.extensions?.reason).toBe("MFA_REQUIRED");
    // The provider's logout must still find the session after verifyMfa carries it past the pending
    // window (MFA_PENDING_TTL_SECONDS, 300 s): the index lasts at least REFRESH_TOKEN_TTL.
    const client = new Redis(redis.url);
    try {
      const ttlMs = await client.pttl(keys.providerSessions("corp", "sub", enrolled.login));
      expect(ttlMs).toBeGreaterThan(api.config.refreshTokenTtl * 1000 - 60_000);
    } finally {
      client.disconnect();
    }
    const verified = await send(api.url, VerifyMfaDocument, { code: totpCode(secret, stepAt(Date.now()) + 1) }, { token: payload.accessToken });
    expect(verified.errors).toBeUndefined();
    expect(claimsOf(verified.data!.verifyMfa.accessToken)).toMatchObject({ aal: "aal2", amr: ["fed", "otp"] });
    // The sign-in reaches the history at verifyMfa, as the provider's, with its second factor.
    const events = await api.store.readAuditEvents({ userId: user.user.id, before: null, from: null, to: null, count: 50 });
    const signedIn = events.filter((event) => event.type === "SIGNED_IN" && event.sessionId === claimsOf(payload.accessToken).sid);
    expect(signedIn.map((event) => event.details)).toEqual([{ via: "oidc:corp", secondFactor: "totp" }]);
  });

  it("of two unlinks at once of the last two ways in, lets one through and refuses the other with LAST_CREDENTIAL", async () => {
    const { payload, me } = await refreshAndMe((await signIn(lastTwo.login)).refresh!);
    // A second identity, linked through the store: the link flow itself is tested above.
    expect(await api.store.linkIdentity({ id: `other:${lastTwo.login}`, provider: "other", subject: lastTwo.login, userId: me!.id, email: lastTwo.email, linkedAt: Date.now() })).toBe("linked");
    const answers = await Promise.all([`corp:${lastTwo.login}`, `other:${lastTwo.login}`].map((id) => send(api.url, UnlinkIdentityDocument, { id }, { token: payload.accessToken })));
    expect(answers.map((answer) => answer.data?.unlinkIdentity ?? answer.errors?.[0]?.extensions?.reason).sort()).toEqual(["LAST_CREDENTIAL", true]);
    // Read from the store: unlinking corp ends this session, which corp started.
    expect(await api.store.listIdentities(me!.id)).toHaveLength(1);
  });
});

describe("sessionEvents", () => {
  it("tells the user's other sessions of a link, a provider sign-in and an unlink, as of a password sign-in, naming the provider", async () => {
    const user = await register(api.url, { email: watched.email });
    expect(await markVerified(user.user.id, watched.email)).toBe(true);
    const live = await openLive(api.url, user.accessToken);
    try {
      const second = await login(api.url, watched.email, PASSWORD, "laptop");
      const jar = new CookieJar();
      const started = await visit(jar, (await askLinkUrl(jar, second.accessToken)).data!.linkIdentityUrl);
      expect((await callback(jar, await signInAtProvider(jar, started.headers.get("location")!, watched.login, `${callbackBase}/corp/callback`))).location.href).toBe(`${APP}/linked`);
      const { payload } = await refreshAndMe((await signIn(watched.login)).refresh!);
      const providerSession = claimsOf(payload.accessToken).sid as string;
      expect((await send(api.url, UnlinkIdentityDocument, { id: `corp:${watched.login}` }, { token: second.accessToken })).data).toEqual({ unlinkIdentity: true });
      const events = await live.eventsAtLeast(5);
      expect(events.map(({ type, sessionId, device, provider, reason }) => ({ type, sessionId, device, provider, reason }))).toEqual([
        { type: "SIGNED_IN", sessionId: second.sessionId, device: "laptop", provider: null, reason: null },
        { type: "IDENTITY_LINKED", sessionId: second.sessionId, device: null, provider: "corp", reason: null },
        { type: "SIGNED_IN", sessionId: providerSession, device: null, provider: "corp", reason: null },
        // The unlink ends the session the identity started, then says so.
        { type: "SESSION_ENDED", sessionId: providerSession, device: null, provider: null, reason: "SESSION" },
        { type: "IDENTITY_UNLINKED", sessionId: second.sessionId, device: null, provider: "corp", reason: null },
      ]);
    } finally {
      await live.dispose();
    }
  });
});

describe("back-channel logout", () => {
  const EVENT = { "http://schemas.openid.net/event/backchannel-logout": {} };
  const now = () => Math.floor(Date.now() / 1000);
  const logoutClaims = (sub: string, extra: Record<string, unknown> = {}) => ({ iss: corp.issuer, aud: "api-corp", iat: now(), jti: `jti-${Math.random()}`, events: EVENT, sub, ...extra });
  const postLogout = (token: string, provider = "corp") =>
    fetch(`${callbackBase}/${provider}/backchannel-logout`, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: new URLSearchParams({ logout_token: token }) });

  it("ends the session when the user signs out at the provider, and closes its socket 4401 SESSION_ENDED", async () => {
    const jar = new CookieJar();
    const { refresh } = await callback(jar, await untilCallback(jar, leaver.login));
    const { payload } = await refreshAndMe(refresh!);
    const live = await openLive(api.url, payload.accessToken);
    await logoutAtProvider(jar, corp.issuer);
    expect(await closedWithin(live, 3000)).toEqual({ code: 4401, reason: "SESSION_ENDED" });
    const after = await send(api.url, MeDocument, {}, { token: payload.accessToken });
    expect(after.errors?.[0]?.extensions?.reason).toBe("TOKEN_REVOKED");
  });

  it("ends every session of the subject at this provider when the token names only sub", async () => {
    const first = await refreshAndMe((await signIn(offboarded.login)).refresh!);
    const second = await refreshAndMe((await signIn(offboarded.login)).refresh!);
    const response = await postLogout(await corp.logoutToken(logoutClaims(offboarded.login)));
    expect(response.status).toBe(200);
    for (const { payload } of [first, second]) {
      const me = await send(api.url, MeDocument, {}, { token: payload.accessToken });
      expect(me.errors?.[0]?.extensions?.reason).toBe("TOKEN_REVOKED");
    }
  });

  it("closes the session's socket on another instance when the logout token reaches this one", async () => {
    const second = await startApi(redis.url, {
      PUBLIC_URL: new URL(callbackBase).origin,
      OIDC_PROVIDERS: "corp",
      OIDC_CORP_ISSUER: corp.issuer,
      OIDC_CORP_CLIENT_ID: "api-corp",
      OIDC_CORP_CLIENT_SECRET: "secret-of-corp-0123456789",
    });
    try {
      const { payload } = await refreshAndMe((await signIn(elsewhere.login)).refresh!);
      const live = await openLive(api.url, payload.accessToken);
      const response = await fetch(`${second.url.replace(/\/graphql$/, "")}/auth/oidc/corp/backchannel-logout`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ logout_token: await corp.logoutToken(logoutClaims(elsewhere.login)) }),
      });
      expect(response.status).toBe(200);
      expect(await closedWithin(live, 2000)).toEqual({ code: 4401, reason: "SESSION_ENDED" });
    } finally {
      await second.stop();
    }
  });

  it("accepts a logout token's jti once", async () => {
    await signIn(replayedLogout.login);
    const token = await corp.logoutToken(logoutClaims(replayedLogout.login));
    expect((await postLogout(token)).status).toBe(200);
    expect((await postLogout(token)).status).toBe(400);
  });

  it("spends a logout token's jti only once its sessions ended: the provider's retry after a store failure works", async () => {
    const { payload, me } = await refreshAndMe((await signIn(retried.login)).refresh!);
    const token = await corp.logoutToken(logoutClaims(retried.login));
    // A real Redis error while the session ends: the user's session index holds the wrong type.
    const client = new Redis(redis.url);
    try {
      const index = keys.sessions(me!.id);
      const [member, score] = await client.zrange(index, "0", "-1", "WITHSCORES");
      await client.del(index);
      await client.set(index, "not a sorted set");
      expect((await postLogout(token)).status).toBeGreaterThanOrEqual(500);
      await client.del(index);
      await client.zadd(index, score!, member!);
    } finally {
      client.disconnect();
    }
    expect((await postLogout(token)).status).toBe(200);
    expect((await send(api.url, MeDocument, {}, { token: payload.accessToken })).errors?.[0]?.extensions?.reason).toBe("TOKEN_REVOKED");
    expect((await postLogout(token)).status).toBe(400);
  });

  it.each([
    ["unsigned (alg none)", async () => `${Buffer.from(JSON.stringify({ alg: "none" })).toString("base64url")}.${Buffer.from(JSON.stringify(logoutClaims(alice.login))).toString("base64url")}.`],
    ["signed by the other provider", async () => other.logoutToken({ ...logoutClaims(alice.login), iss: other.issuer })],
    ["for another client", async () => corp.logoutToken(logoutClaims(alice.login, { aud: "api-other" }))],
    ["with a nonce", async () => corp.logoutToken(logoutClaims(alice.login, { nonce: "n" }))],
    ["without the back-channel logout event", async () => corp.logoutToken(logoutClaims(alice.login, { events: {} }))],
    ["without sid or sub", async () => corp.logoutToken({ ...logoutClaims(alice.login), sub: undefined })],
    ["with a stale iat", async () => corp.logoutToken(logoutClaims(alice.login, { iat: now() - 3600 }))],
  ])("refuses a logout token %s with 400", async (_name, make) => {
    const { refresh } = await signIn(alice.login);
    const response = await postLogout(await make());
    expect(response.status).toBe(400);
    expect((await refreshAndMe(refresh!)).me?.email).toBe(alice.email);
  });

  it("refuses a logout token of this provider posted to the other provider's endpoint", async () => {
    expect((await postLogout(await corp.logoutToken(logoutClaims(alice.login)), "other")).status).toBe(400);
  });
});

/** RP-initiated logout at oidc-provider: its confirmation form, submitted; it then posts the logout token to the API. */
async function logoutAtProvider(jar: CookieJar, issuer: string): Promise<void> {
  const page = await visit(jar, `${issuer}/session/end`);
  const html = await page.text();
  const action = /<form[^>]*action="([^"]+)"/.exec(html)?.[1];
  const form = new URLSearchParams([...html.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)"/g)].map(([, name, value]): [string, string] => [name!, value!]));
  form.set("logout", "yes");
  const done = await visit(jar, new URL(action!, issuer).href, { method: "POST", body: form, headers: { "content-type": "application/x-www-form-urlencoded" } });
  expect(done.status).toBeLessThan(400);
}

async function markVerified(userId: string, email: string): Promise<boolean> {
  const now = Date.now();
  await api.store.putMailToken(userId, "email_verification", { hash: "test-hash", expiresAt: now + 60_000, email });
  return (await api.store.verifyEmail({ userId, hash: "test-hash", now }))?.emailVerified === true;
}
