import { chromium, type Browser, type Page } from "playwright-core";
import type { TestApi } from "../support/api";
import { uniqueEmail } from "../support/client";
import { CHROMIUM_ARGS, describeWithChromium } from "../support/chromium";
import { startApiWithProvider, type TestProvider } from "../support/oidc";
import { startRedis, type TestRedis } from "../support/redis";

describeWithChromium("Sign-in with an OpenID provider in Chromium", (CHROMIUM) => {
  // Starting Chromium takes seconds, not the milliseconds of HTTP tests.
  jest.setTimeout(60_000);

  const email = uniqueEmail("browser");
  let redis: TestRedis, api: TestApi, provider: TestProvider, browser: Browser, origin: string;

  beforeAll(async () => {
    redis = await startRedis();
    ({ api, provider, origin } = await startApiWithProvider({ redisUrl: redis.url, accounts: { carol: { email, email_verified: true } } }));
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  });
  afterAll(async () => {
    await browser?.close();
    await api?.stop();
    await Promise.all([provider?.stop(), redis?.destroy()]);
  });

  it("goes through the provider's login form and the callback, keeps the refresh cookie, then refresh and me work", async () => {
    const page = await browser.newPage();
    // redirect_to on this API's own origin (allowed by default), so the page can call /graphql without CORS.
    await page.goto(`${origin}/auth/oidc/corp/start?redirect_to=${encodeURIComponent(`${origin}/health`)}`);
    expect(new URL(page.url()).origin).toBe(provider.issuer);
    await page.fill('input[name="login"]', "carol");
    await page.fill('input[name="password"]', "any");
    await Promise.all([page.waitForURL(`${origin}/health`), page.click('button[type="submit"]')]);
    expect(await refreshThenMe(page, "email emailVerified")).toEqual({ data: { me: { email, emailVerified: true } } });
    await page.close();
  });

  // Apple's response_mode=form_post: the provider's page posts the answer to the callback. The API
  // is on 127.0.0.1 and the provider on localhost, two sites: Chromium sends the flow cookie with that
  // cross-site POST only because it is SameSite=None (a Lax one stays behind: OIDC_STATE_MISMATCH).
  describe("with a provider that answers by form_post, from another site", () => {
    const poster = uniqueEmail("form-post");
    let formApi: TestApi, formProvider: TestProvider, formOrigin: string;
    beforeAll(async () => {
      ({ api: formApi, provider: formProvider, origin: formOrigin } = await startApiWithProvider({
        redisUrl: redis.url,
        host: "127.0.0.1",
        accounts: { dave: { email: poster, email_verified: true } },
        env: { OIDC_CORP_RESPONSE_MODE: "form_post" },
      }));
    });
    afterAll(async () => {
      await formApi?.stop();
      await formProvider?.stop();
    });

    it("signs in from the provider's cross-site POST, then refresh and me work", async () => {
      const page = await browser.newPage();
      await page.goto(`${formOrigin}/auth/oidc/corp/start?redirect_to=${encodeURIComponent(`${formOrigin}/health`)}`);
      expect(new URL(page.url()).origin).toBe(formProvider.issuer);
      await page.fill('input[name="login"]', "dave");
      await page.fill('input[name="password"]', "any");
      await Promise.all([page.waitForURL((url) => url.origin === formOrigin && url.pathname === "/health"), page.click('button[type="submit"]')]);
      expect(new URL(page.url()).searchParams.get("error")).toBeNull();
      expect(await refreshThenMe(page, "email")).toEqual({ data: { me: { email: poster } } });
      await page.close();
    });
  });
});

/** In the page, on the API's origin: `refresh` with the cookie the callback set, then `me { <fields> }` with its token. */
function refreshThenMe(page: Page, fields: string): Promise<unknown> {
  return page.evaluate(async (selection) => {
    const call = (query: string, token?: string) =>
      fetch("/graphql", {
        method: "POST",
        credentials: "same-origin",
        headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
        body: JSON.stringify({ query }),
      }).then((response) => response.json());
    const refreshed = (await call("mutation { refresh { accessToken } }")) as { data?: { refresh?: { accessToken?: string } } };
    return call(`{ me { ${selection} } }`, refreshed.data?.refresh?.accessToken);
  }, fields);
}
