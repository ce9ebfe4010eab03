import { join, resolve } from "node:path";
import { chromium, type Browser } from "playwright-core";
import { jose } from "../../src/auth/federation/openid";
import { ConfirmTotpDocument, EnrollTotpDocument } from "../../schema/generated/graphql";
import { expectAccessible } from "../support/axe";
import { PASSWORD, register, send, uniqueEmail } from "../support/client";
import { CHROMIUM_ARGS, describeWithChromium } from "../support/chromium";
import { registerClient, startBrowserRelyingParty, startOAuthApi, type BrowserRelyingParty } from "../support/oauth";
import { startRedis, type TestRedis } from "../support/redis";
import { stepAt, totpCode } from "../support/totp";
import type { TestApi } from "../support/api";

const SECRET = "browser-client-secret-that-is-long-and-random-0123456789";

describeWithChromium("Sign-in through this API's OAuth provider in Chromium", (CHROMIUM) => {
  jest.setTimeout(60_000);
  let redis: TestRedis, api: TestApi & { issuer: string }, browser: Browser, rp: BrowserRelyingParty;

  beforeAll(async () => {
    redis = await startRedis();
    api = await startOAuthApi(redis.url, { BRAND_NAME: "Example Co" });
    rp = await startBrowserRelyingParty();
    await registerClient(api, { clientId: "browser-app", redirectUris: [`${rp.url}/callback`], scopes: ["openid", "email", "api"] }, SECRET);
    await rp.discover(api.issuer, "browser-app", SECRET);
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
    await page.getByRole("button", { name: "Sign in", exact: true }).click();
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
    await page.getByRole("button", { name: "Sign in", exact: true }).click();
    await expect(page.locator("#field-password-error").textContent()).resolves.toContain("INVALID_CREDENTIALS");
    await expectAccessible(page, "oauth sign-in, with errors");
    await screenshot("oauth-sign-in-errors");

    await page.getByLabel("Password").fill(PASSWORD);
    await page.getByRole("button", { name: "Sign in", exact: true }).click();
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
    await expect(dePage.getByRole("button", { name: "Anmelden", exact: true }).count()).resolves.toBe(1);
    await expectAccessible(dePage, "oauth sign-in in German");
    await german.close();
  });
});
