import { chromium, type Browser, type Page } from "playwright-core";
import { ConfirmTotpDocument, EnrollTotpDocument } from "../../schema/generated/graphql";
import { jose } from "../../src/auth/federation/openid";
import type { TestApi } from "../support/api";
import { expectAccessible } from "../support/axe";
import { PASSWORD, register, send, uniqueEmail } from "../support/client";
import { CHROMIUM_ARGS, describeWithChromium, newDevice as newBrowserDevice } from "../support/chromium";
import { asymmetricEnv, newKey } from "../support/keys";
import { registerClient, startBrowserRelyingParty, type BrowserRelyingParty } from "../support/oauth";
import { startApiWithProvider, type TestProvider } from "../support/oidc";
import { startRedis, type TestRedis } from "../support/redis";
import { stepAt, totpCode } from "../support/totp";

/**
 * The OAuth interaction's sign-in offers what /auth/sign-in offers (docs/oauth-provider.md): a
 * passkey (the hosted pages' script, Passkeys.login behind it) and a button per sign-in provider
 * whose callback comes back into the same interaction. Real Chromium with the virtual
 * authenticator, a real upstream oidc-provider (test/support/oidc.ts), relying parties with
 * openid-client and a real callback server.
 */
describeWithChromium("the OAuth interaction's passkey and provider sign-in in Chromium", (CHROMIUM) => {
  jest.setTimeout(90_000);

  const SECRET = "interaction-client-secret-that-is-long-and-random-0123";
  /** A laptop's platform authenticator: resident keys, user verification that passes. */
  const PLATFORM_AUTHENTICATOR = { protocol: "ctap2", transport: "internal", hasResidentKey: true, hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true };

  const carol = uniqueEmail("interaction-carol");
  const tess = uniqueEmail("interaction-tess");
  const squatted = uniqueEmail("interaction-squatted");
  let redis: TestRedis, api: TestApi, provider: TestProvider, origin: string, browser: Browser;
  /** A client with requireMfa, and one without. */
  let strict: BrowserRelyingParty, plain: BrowserRelyingParty;
  /** Content-Security-Policy violations any page reported: there must be none. */
  const violations: string[] = [];

  beforeAll(async () => {
    redis = await startRedis();
    ({ api, provider, origin } = await startApiWithProvider({
      redisUrl: redis.url,
      accounts: { carol: { email: carol, email_verified: true }, tess: { email: tess, email_verified: true }, mallory: { email: squatted, email_verified: true } },
      env: { ...asymmetricEnv([newKey("ES256")]), OAUTH_PROVIDER: "on", LOGIN_MAX_FAILURES: "1000" },
    }));
    [strict, plain] = await Promise.all([startBrowserRelyingParty(), startBrowserRelyingParty()]);
    await registerClient(api, { clientId: "strict-app", name: "Strict App", redirectUris: [`${strict.url}/callback`], requireMfa: true }, SECRET);
    await registerClient(api, { clientId: "plain-app", name: "Plain App", redirectUris: [`${plain.url}/callback`] }, SECRET);
    await strict.discover(origin, "strict-app", SECRET);
    await plain.discover(origin, "plain-app", SECRET);
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
  });
  afterAll(async () => {
    await browser?.close();
    strict?.server.close();
    plain?.server.close();
    await api?.stop();
    await Promise.all([provider?.stop(), redis?.destroy()]);
  });
  afterEach(() => expect(violations).toEqual([]));

  const newDevice = () => newBrowserDevice(browser, violations);

  /** The interaction's "Sign in with Corp", then the provider's login form as `login`. */
  async function signInWithCorp(page: Page, login: string): Promise<void> {
    await page.getByRole("link", { name: "Sign in with Corp" }).click();
    await page.waitForURL((url) => url.origin === provider.issuer);
    await page.fill('input[name="login"]', login);
    await page.fill('input[name="password"]', "any");
    await page.click('button[type="submit"]');
  }

  /** Allow on the consent page, then the relying party's callback shows whom it signed in. */
  async function allowAndLand(page: Page, rp: BrowserRelyingParty, email: string): Promise<void> {
    await page.getByRole("button", { name: "Allow" }).click();
    await page.waitForURL(`${rp.url}/callback**`);
    expect(await page.locator("#who").textContent()).toBe(`Signed in as ${email}`);
  }

  /** The ID token's claims, checked with jose against the published JWKS. */
  async function idTokenOf(rp: BrowserRelyingParty): Promise<Record<string, unknown>> {
    const { payload } = await jose.jwtVerify(rp.tokens()!.id_token!, jose.createRemoteJWKSet(new URL(`${origin}/oauth/jwks`)), { issuer: origin });
    return payload;
  }

  /** A passkey for `token`'s user, registered from a page on the API's origin (as docs/passkeys.md shows). */
  async function addPasskey(page: Page, token: string): Promise<void> {
    await page.goto(`${origin}/healthz`);
    const errors = await page.evaluate(async (bearer) => {
      const g = globalThis as any;
      const call = async (query: string, variables: object) =>
        (await g.fetch("/graphql", { method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${bearer}` }, body: JSON.stringify({ query, variables }) })).json();
      const options = (await call("mutation { passkeyRegistrationOptions }", {})).data.passkeyRegistrationOptions;
      const credential = await g.navigator.credentials.create({ publicKey: g.PublicKeyCredential.parseCreationOptionsFromJSON(options) });
      return (await call('mutation ($response: JSON!) { registerPasskey(response: $response, name: "laptop") { id } }', { response: credential.toJSON() })).errors ?? null;
    }, token);
    expect(errors).toBeNull();
  }

  it("completes a requireMfa client's code + PKCE flow with a passkey: conditional UI, then the button by keyboard, axe at 0 on the page with every control", async () => {
    const email = uniqueEmail("interaction-passkey");
    const registered = await register(`${origin}/graphql`, { email });
    const { context, page } = await newDevice();
    const cdp = await context.newCDPSession(page);
    await cdp.send("WebAuthn.enable", { enableUI: false });
    await cdp.send("WebAuthn.addVirtualAuthenticator", { options: PLATFORM_AUTHENTICATOR } as never);
    await addPasskey(page, registered.accessToken);

    // Conditional UI: the interaction's sign-in page asks at once (autocomplete="username webauthn"),
    // and the virtual authenticator answers as a person picking the passkey in the autofill would.
    await page.goto(`${strict.url}/login`);
    await page.getByRole("button", { name: "Allow" }).waitFor();
    expect(new URL(page.url()).pathname).toMatch(/^\/oauth\/interaction\//);
    await allowAndLand(page, strict, email);
    // A passkey with user verification is aal2: requireMfa is met, and acr/amr say how.
    expect(await idTokenOf(strict)).toMatchObject({ acr: "aal2", amr: ["hwk", "user"], email });

    // The button, in a browser without conditional UI, reached by the keyboard alone.
    await context.clearCookies();
    await page.addInitScript(() => {
      (globalThis as any).PublicKeyCredential.isConditionalMediationAvailable = () => Promise.resolve(false);
    });
    await page.goto(`${strict.url}/login`);
    const passkeyButton = page.getByRole("button", { name: "Sign in with a passkey" });
    await passkeyButton.waitFor();
    expect(await page.getByLabel("Email").getAttribute("autocomplete")).toBe("username webauthn");
    await expect(page.getByRole("link", { name: "Sign in with Corp" }).count()).resolves.toBe(1);
    await expect(page.getByRole("button", { name: "Sign in", exact: true }).count()).resolves.toBe(1);
    await expectAccessible(page, "oauth sign-in with passkey and provider");
    await passkeyButton.focus();
    await page.keyboard.press("Enter");
    await page.getByRole("button", { name: "Allow" }).waitFor();
    await allowAndLand(page, strict, email);
    expect(await idTokenOf(strict)).toMatchObject({ acr: "aal2", amr: ["hwk", "user"] });
    await context.close();
  });

  it("completes a code + PKCE flow through the provider button: the callback comes back into the same interaction, then consent", async () => {
    const { context, page } = await newDevice();
    const navigations: URL[] = [];
    page.on("request", (request) => request.isNavigationRequest() && navigations.push(new URL(request.url())));
    await page.goto(`${plain.url}/login`);
    const interaction = new URL(page.url());
    await signInWithCorp(page, "carol");
    await page.getByRole("button", { name: "Allow" }).waitFor();
    // The callback sent the browser back to this interaction's own page (its uid), which completed
    // the sign-in; oidc-provider then asked for consent.
    const callback = navigations.findIndex((url) => url.pathname === "/auth/oidc/corp/callback");
    expect(callback).toBeGreaterThan(0);
    expect(navigations[callback + 1]?.href).toBe(interaction.href);
    await expectAccessible(page, "oauth consent after a provider sign-in");
    await allowAndLand(page, plain, carol);
    expect(await idTokenOf(plain)).toMatchObject({ acr: "aal1", amr: ["fed"], email: carol });
    await context.close();
  });

  it("asks a provider sign-in for the account's second factor before a requireMfa client's consent", async () => {
    const registered = await register(`${origin}/graphql`, { email: tess });
    const now = Date.now();
    // A provider identity links to an account only when both sides verified the address.
    await api.store.putMailToken(registered.user.id, "email_verification", { hash: "test-hash", expiresAt: now + 60_000, email: tess });
    expect((await api.store.verifyEmail({ userId: registered.user.id, hash: "test-hash", now }))?.emailVerified).toBe(true);
    const secret = (await send(`${origin}/graphql`, EnrollTotpDocument, { currentPassword: PASSWORD }, { token: registered.accessToken })).data!.enrollTotp.secret;
    const step = stepAt(Date.now());
    await send(`${origin}/graphql`, ConfirmTotpDocument, { code: totpCode(secret, step) }, { token: registered.accessToken });

    const { context, page } = await newDevice();
    await page.goto(`${strict.url}/login`);
    await signInWithCorp(page, "tess");
    await page.getByLabel("Code").waitFor();
    await expectAccessible(page, "oauth second factor after a provider sign-in");
    await page.getByLabel("Code").fill(totpCode(secret, step + 1));
    await page.getByRole("button", { name: "Verify" }).click();
    await page.getByRole("button", { name: "Allow" }).waitFor();
    await allowAndLand(page, strict, tess);
    const claims = await idTokenOf(strict);
    expect(claims).toMatchObject({ acr: "aal2", email: tess });
    expect(claims.amr).toEqual(expect.arrayContaining(["fed", "otp"]));
    await context.close();
  });

  it("shows a failed provider sign-in beside the form, back in the same interaction, with axe at 0", async () => {
    // An account holds the address, unverified: the provider's identity is not linked to it.
    await register(`${origin}/graphql`, { email: squatted });
    const { context, page } = await newDevice();
    await page.goto(`${plain.url}/login`);
    const interaction = new URL(page.url());
    await signInWithCorp(page, "mallory");
    await page.waitForURL((url) => url.pathname === interaction.pathname && url.searchParams.get("error") === "OIDC_ACCOUNT_EXISTS");
    await expect(page.getByRole("alert").textContent()).resolves.toContain("OIDC_ACCOUNT_EXISTS");
    await expectAccessible(page, "oauth sign-in with a provider error");
    await context.close();
  });
});
