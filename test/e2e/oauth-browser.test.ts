import { createServer, type Server } from "node:http";
import { join, resolve } from "node:path";
import type { AddressInfo } from "node:net";
import { chromium, type Browser } from "playwright-core";
import { jose, openid } from "../../src/auth/federation/openid";
import { ConfirmTotpDocument, EnrollTotpDocument } from "../../schema/generated/graphql";
import { expectAccessible } from "../support/axe";
import { PASSWORD, register, send, uniqueEmail } from "../support/client";
import { CHROMIUM_ARGS, describeWithChromium } from "../support/chromium";
import { registerClient, startOAuthApi } from "../support/oauth";
import { startRedis, type TestRedis } from "../support/redis";
import { stepAt, totpCode } from "../support/totp";
import type { TestApi } from "../support/api";

type Configuration = import("openid-client", { with: { "resolution-mode": "import" } }).Configuration;

const SECRET = "browser-client-secret-that-is-long-and-random-0123456789";

/**
 * A relying party with a real callback server: /login sends the browser to the provider with code +
 * PKCE (S256), /callback redeems the code with openid-client and shows whom it signed in.
 */
async function startRelyingParty(): Promise<{ url: string; tokens: () => Awaited<ReturnType<typeof openid.authorizationCodeGrant>> | null; setConfig: (config: Configuration) => void; server: Server }> {
  let config: Configuration | null = null;
  let verifier = "";
  let state = "";
  let tokens: Awaited<ReturnType<typeof openid.authorizationCodeGrant>> | null = null;
  const server = createServer(async (request, response) => {
    const url = new URL(request.url!, `http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    try {
      if (url.pathname === "/login") {
        verifier = openid.randomPKCECodeVerifier();
        state = openid.randomState();
        const target = openid.buildAuthorizationUrl(config!, { redirect_uri: `${url.origin}/callback`, scope: "openid email api", code_challenge: await openid.calculatePKCECodeChallenge(verifier), code_challenge_method: "S256", state });
        return response.writeHead(302, { location: target.href }).end();
      }
      if (url.pathname === "/callback") {
        tokens = await openid.authorizationCodeGrant(config!, url, { pkceCodeVerifier: verifier, expectedState: state });
        return response.writeHead(200, { "content-type": "text/html" }).end(`<!doctype html><title>RP</title><p id="who">Signed in as ${String(tokens.claims()?.email)}</p>`);
      }
      response.writeHead(404).end();
    } catch (error) {
      response.writeHead(500, { "content-type": "text/plain" }).end(String(error));
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, tokens: () => tokens, setConfig: (value) => (config = value), server };
}

describeWithChromium("Sign-in through this API's OAuth provider in Chromium", (CHROMIUM) => {
  jest.setTimeout(60_000);
  let redis: TestRedis, api: TestApi & { issuer: string }, browser: Browser, rp: Awaited<ReturnType<typeof startRelyingParty>>;

  beforeAll(async () => {
    redis = await startRedis();
    api = await startOAuthApi(redis.url, { BRAND_NAME: "Example Co" });
    rp = await startRelyingParty();
    await registerClient(api, { clientId: "browser-app", redirectUris: [`${rp.url}/callback`], scopes: ["openid", "email", "api"] }, SECRET);
    rp.setConfig(await openid.discovery(new URL(api.issuer), "browser-app", undefined, openid.ClientSecretBasic(SECRET), { execute: [openid.allowInsecureRequests] }));
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  });
  afterAll(async () => {
    await browser?.close();
    rp?.server.close();
    await api?.stop();
    await redis?.destroy();
  });

  it("signs in on the Email/Password page, allows on the consent page, and lands on the relying party's callback", async () => {
    const email = uniqueEmail("oauth-browser");
    await register(`${api.issuer}/graphql`, { email });
    const page = await browser.newPage();
    const violations: string[] = [];
    page.on("console", (message) => {
      // The pages' CSP forbids everything but their form posts (and the redirects after them): nothing may be refused.
      if (message.text().includes("Content Security Policy")) violations.push(message.text());
    });
    await page.goto(`${rp.url}/login`);
    expect(new URL(page.url()).origin).toBe(api.issuer);
    await page.getByLabel("Email").fill(email);
    await page.getByLabel("Password").fill(PASSWORD);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("button", { name: "Allow" }).click();
    await page.waitForURL(`${rp.url}/callback**`);
    expect(await page.locator("#who").textContent()).toBe(`Signed in as ${email}`);
    expect(violations).toEqual([]);
    const tokens = rp.tokens()!;
    const jwks = jose.createRemoteJWKSet(new URL(`${api.issuer}/oauth/jwks`));
    const { payload } = await jose.jwtVerify(tokens.access_token, jwks, { issuer: api.issuer, audience: api.config.jwt.audience, typ: "at+jwt" });
    expect(payload).toMatchObject({ client_id: "browser-app", sid: expect.any(String), jti: expect.any(String) });
    await page.close();
  });

  /** PAGES_SCREENSHOTS=1 writes docs/pages/oauth-*.png, beside the hosted pages' (test/e2e/pages.test.ts). */
  const SCREENSHOTS = process.env.PAGES_SCREENSHOTS === "1" ? resolve(__dirname, "../../docs/pages") : null;

  it("has no axe violation on the sign-in, second factor and consent pages, empty and with errors, in English and German", async () => {
    const email = uniqueEmail("oauth-axe");
    const registered = await register(`${api.issuer}/graphql`, { email });
    const secret = (await send(`${api.issuer}/graphql`, EnrollTotpDocument, { currentPassword: PASSWORD }, { token: registered.accessToken })).data!.enrollTotp.secret;
    const step = stepAt(Date.now());
    await send(`${api.issuer}/graphql`, ConfirmTotpDocument, { code: totpCode(secret, step) }, { token: registered.accessToken });
    const context = await browser.newContext({ viewport: { width: 640, height: 900 } });
    const page = await context.newPage();
    const violations: string[] = [];
    page.on("console", (message) => {
      if (/Content.Security.Policy|Refused to/i.test(message.text())) violations.push(message.text());
    });
    const screenshot = async (name: string) => {
      if (SCREENSHOTS) await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });
    };

    await page.goto(`${rp.url}/login`);
    await expectAccessible(page, "oauth sign-in, empty");
    await screenshot("oauth-sign-in");
    await page.getByLabel("Email").fill(email);
    await page.getByLabel("Password").fill("not the password");
    await page.getByRole("button", { name: "Sign in" }).click();
    await expect(page.locator("#field-password-error").textContent()).resolves.toContain("INVALID_CREDENTIALS");
    await expectAccessible(page, "oauth sign-in, with errors");
    await screenshot("oauth-sign-in-errors");

    await page.getByLabel("Password").fill(PASSWORD);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByLabel("Code").waitFor();
    await expectAccessible(page, "oauth second factor, empty");
    await screenshot("oauth-mfa");
    await page.getByLabel("Code").fill("000000");
    await page.getByRole("button", { name: "Verify" }).click();
    await expect(page.locator("#field-code-error").textContent()).resolves.toContain("INVALID_MFA_CODE");
    await expectAccessible(page, "oauth second factor, with errors");

    await page.getByLabel("Code").fill(totpCode(secret, step + 1));
    await page.getByRole("button", { name: "Verify" }).click();
    await page.getByRole("button", { name: "Allow" }).waitFor();
    await expect(page.getByRole("button", { name: "Deny" }).count()).resolves.toBe(1);
    await expectAccessible(page, "oauth consent");
    await screenshot("oauth-consent");
    await page.getByRole("button", { name: "Allow" }).click();
    await page.waitForURL(`${rp.url}/callback**`);
    expect(violations).toEqual([]);
    await context.close();

    const german = await browser.newContext({ locale: "de-DE", viewport: { width: 640, height: 900 } });
    const dePage = await german.newPage();
    await dePage.goto(`${rp.url}/login`);
    expect(await dePage.getAttribute("html", "lang")).toBe("de");
    await expect(dePage.getByRole("button", { name: "Anmelden" }).count()).resolves.toBe(1);
    await expectAccessible(dePage, "oauth sign-in in German");
    await german.close();
  });
});
