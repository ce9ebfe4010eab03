import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { chromium, type BrowserContext, type Page } from "playwright-core";
import { startWebExample, type WebExample } from "../../examples/web/server";
import { LoginDocument, LogoutAllDocument } from "../../schema/generated/graphql";
import { startApi, type TestApi } from "../support/api";
import { PASSWORD, register, send } from "../support/client";
import { CHROMIUM_ARGS, describeWithChromium } from "../support/chromium";

describeWithChromium("the client package in two tabs of Chromium", (CHROMIUM) => {

  // Two tabs of one browser context (one cookie jar, one origin) run examples/web, which is built
  // with @revocable-auth/client and served by its own server with a same-origin proxy to the API.
  jest.setTimeout(60_000);

  /** Rewritten only with UPDATE_SCREENSHOT=1, so ordinary runs leave the work tree clean. */
  const SCREENSHOT = resolve(__dirname, "../../docs/web-example.png");
  /** Short-lived access tokens, so the test sees them expire; the client refreshes at half-life. */
  const ACCESS_TOKEN_TTL_SECONDS = 4;

  /**
   * An expression on the page's client, which the page's module exports (examples/web/app/main.ts;
   * there is no global): evaluated in the page, as any script of its origin could.
   */
  const onClient = (expression: string) => `import("/app.js").then(({ auth }) => ${expression})`;

  let api: TestApi;
  let web: WebExample;
  let userDataDir: string;
  let browser: BrowserContext;
  let tabA: Page;
  let tabB: Page;
  /** The body of every GraphQL POST the pages sent, as the proxy in front of the API saw it. */
  const sent: string[] = [];
  const pageErrors: string[] = [];
  const refreshes = () => sent.filter((body) => /^mutation \w+ \{ refresh\b/.test((JSON.parse(body) as { query: string }).query)).length;

  async function openTab(): Promise<Page> {
    const page = await browser.newPage();
    page.on("pageerror", (error) => pageErrors.push(error.message));
    await page.goto(web.url);
    return page;
  }

  const statusOf = (page: Page, text: string) => page.locator("#status", { hasText: text }).waitFor();
  const eventsOf = (page: Page) => page.locator("#events li").allTextContents();
  const tokenOf = (page: Page) => page.evaluate<string | null>(onClient("auth.getAccessToken()"));
  /** Until both tabs hold a token past its refresh margin. */
  async function untilStale(...pages: Page[]): Promise<void> {
    for (const page of pages) {
      const deadline = Date.now() + 10_000;
      while ((await page.evaluate(onClient("auth.currentAccessToken()"))) !== null) {
        if (Date.now() > deadline) throw new Error("the page's access token did not reach its refresh margin within 10 s");
        await page.waitForTimeout(50);
      }
    }
  }

  async function signIn(page: Page, email: string): Promise<void> {
    await page.fill('input[name="email"]', email);
    await page.fill('input[name="password"]', PASSWORD);
    await page.click('button[type="submit"]');
    await statusOf(page, "Signed in.");
  }

  beforeAll(async () => {
    api = await startApi(null, { REFRESH_REUSE_GRACE_SECONDS: "0", ACCESS_TOKEN_TTL: String(ACCESS_TOKEN_TTL_SECONDS) });
    web = await startWebExample({ apiUrl: api.url, onGraphQLRequest: (body) => sent.push(body) });
    userDataDir = mkdtempSync(join(tmpdir(), "client-chromium-"));
    browser = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM,
      args: CHROMIUM_ARGS,
      headless: true,
      viewport: { width: 900, height: 700 },
    });
    tabA = browser.pages()[0] ?? (await browser.newPage());
    tabA.on("pageerror", (error) => pageErrors.push(error.message));
    await tabA.goto(web.url);
    await statusOf(tabA, "Signed out.");
  });

  afterAll(async () => {
    await browser?.close();
    await web?.stop();
    await api?.stop();
    if (userDataDir) rmSync(userDataDir, { recursive: true, force: true });
  });

  describe("@revocable-auth/client in two tabs of Chromium", () => {
    let email: string;

    it("signs in in tab A; tab B, opened next, gets its token through the HttpOnly cookie", async () => {
      email = (await register(api.url)).user.email;
      expect(await eventsOf(tabA)).toEqual(["SIGNED_OUT NO_SESSION"]);
      await signIn(tabA, email);
      await expect(tabA.locator("#email").textContent()).resolves.toBe(email);

      const before = refreshes();
      tabB = await openTab();
      await statusOf(tabB, "Signed in.");
      expect(refreshes() - before).toBe(1);
      expect(await eventsOf(tabB)).toEqual(["SIGNED_IN"]);
      // B's refresh rotated the cookie and told A, so both tabs hold B's new token.
      await tabA.locator("#events li", { hasText: "TOKEN_REFRESHED" }).waitFor();
      expect(await tokenOf(tabA)).toBe(await tokenOf(tabB));

      // The refresh token is in an HttpOnly cookie only: no script and no storage can read it.
      const cookie = (await browser.cookies()).find((c) => c.name === "refresh_token");
      expect(cookie).toMatchObject({ httpOnly: true, secure: true, sameSite: "Strict", path: "/graphql" });
      const visible = await tabB.evaluate(() => {
        const g = globalThis as unknown as { document: { cookie: string }; localStorage: object; sessionStorage: object };
        return g.document.cookie + JSON.stringify(g.localStorage) + JSON.stringify(g.sessionStorage);
      });
      expect(visible).toBe("{}{}");
      // Nor does the page hand its client to every script on window.
      expect(await tabB.evaluate("Object.keys(globalThis).filter((name) => /auth/i.test(name))")).toEqual([]);
    });

    it("after expiry, ten concurrent getAccessToken() across both tabs make one refresh and get one token; the session lives on with no grace window", async () => {
      await untilStale(tabA, tabB);
      const before = refreshes();
      const fiveCalls = onClient("Promise.all(Array.from({ length: 5 }, () => auth.getAccessToken()))");
      const [inA, inB] = await Promise.all([tabA.evaluate<(string | null)[]>(fiveCalls), tabB.evaluate<(string | null)[]>(fiveCalls)]);
      const tokens = new Set([...inA, ...inB]);
      expect(tokens.size).toBe(1);
      expect([...tokens][0]).toMatch(/^eyJ/);
      expect(refreshes() - before).toBe(1);

      expect(await tabB.evaluate(onClient(`auth.request("{ me { email } }")`))).toEqual({ me: { email } });
      await untilStale(tabA, tabB);
      expect(await tokenOf(tabA)).toMatch(/^eyJ/);
      expect(await tabB.evaluate(onClient("auth.state.status"))).toBe("signedIn");
    });

    it("a sign-out in tab A reaches tab B as SIGNED_OUT, and B asks the API nothing after it", async () => {
      await tabA.click("#sign-out");
      await tabB.locator("#events li", { hasText: "SIGNED_OUT SIGNED_OUT" }).waitFor();
      await statusOf(tabB, "Signed out.");
      const before = sent.length;
      expect(await tokenOf(tabB)).toBeNull();
      expect(await tokenOf(tabA)).toBeNull();
      expect(sent.length).toBe(before);
    });

    it("a revoked session does not loop: at most one refresh, one SIGNED_OUT per tab, then no requests", async () => {
      await signIn(tabA, email);
      await tabB.locator("#events li", { hasText: "SIGNED_IN" }).nth(1).waitFor();
      const other = await send(api.url, LoginDocument, { input: { email, password: PASSWORD, device: "another device" } });
      expect((await send(api.url, LogoutAllDocument, {}, { token: other.data!.login.accessToken })).data?.logoutAll).toBe(3);

      const before = refreshes();
      await untilStale(tabA, tabB);
      const calls = onClient("Promise.all(Array.from({ length: 5 }, () => auth.getAccessToken()))");
      const [inA, inB] = await Promise.all([tabA.evaluate<(string | null)[]>(calls), tabB.evaluate<(string | null)[]>(calls)]);
      expect([...inA, ...inB]).toEqual(Array(10).fill(null));
      expect(refreshes() - before).toBeLessThanOrEqual(1);

      const quiet = sent.length;
      await new Promise((r) => setTimeout(r, 1_500));
      await Promise.all([tabA.evaluate(calls), tabB.evaluate(calls)]);
      expect(sent.length).toBe(quiet);
      for (const tab of [tabA, tabB]) {
        const log = await eventsOf(tab);
        const sinceSignIn = log.slice(log.lastIndexOf("SIGNED_IN") + 1);
        expect(sinceSignIn.filter((line) => line.startsWith("SIGNED_OUT"))).toEqual([expect.stringMatching(/^SIGNED_OUT (TOKEN_REVOKED|INVALID_TOKEN)$/)]);
      }
    });

    it("a login on another device shows in both tabs, and its logoutAll signs both out at once, with no request from them", async () => {
      await signIn(tabA, email);
      await statusOf(tabB, "Signed in.");
      // One tab holds the socket (the Web Lock) and relays; log in elsewhere until both tabs heard it.
      const notice = "Signed in on another device: another device";
      const bothHeard = async () => (await Promise.all([tabA, tabB].map((tab) => tab.locator("#notice").textContent()))).every((text) => text === notice);
      let other = "";
      for (let attempt = 0; attempt < 25 && !(await bothHeard()); attempt++) {
        other = (await send(api.url, LoginDocument, { input: { email, password: PASSWORD, device: "another device" } })).data!.login.accessToken;
        await new Promise((r) => setTimeout(r, 300));
      }
      expect(await bothHeard()).toBe(true);
      await Promise.all([tabA, tabB].map((tab) => statusOf(tab, "Signed in.")));
      if (process.env.UPDATE_SCREENSHOT === "1") await tabA.screenshot({ path: SCREENSHOT });

      const logged = await Promise.all([tabA, tabB].map((tab) => eventsOf(tab)));
      const before = sent.length;
      await send(api.url, LogoutAllDocument, {}, { token: other });
      for (const [i, tab] of [tabA, tabB].entries()) {
        await tab.waitForFunction((count) => ((globalThis as unknown as { document: { querySelectorAll(s: string): { length: number } } }).document.querySelectorAll("#events li").length > count), logged[i]!.length);
        expect((await eventsOf(tab)).slice(logged[i]!.length)).toEqual(["SIGNED_OUT TOKEN_REVOKED"]);
      }
      expect(sent.slice(before)).toEqual([]);
    });

    it("threw nothing in either page", () => {
      expect(pageErrors).toEqual([]);
    });
  });
});
