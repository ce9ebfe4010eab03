import { startApi, type TestApi } from "../support/api";
import { ConfirmTotpDocument, EnrollTotpDocument } from "../../schema/generated/graphql";
import { login, PASSWORD, post, register, send, uniqueEmail } from "../support/client";
import { linkIn, Mailbox } from "../support/mailbox";
import { freePort, startRedis, type TestRedis } from "../support/redis";
import { stepAt, testClock, totpCode } from "../support/totp";

/**
 * The hosted pages' HTTP contract (docs/pages.md), without a browser: the routes and their switch,
 * CSRF and Origin refusals, redirect_to, the shared throttle, and a page session that ends with its
 * session. The flows themselves run in Chromium (test/e2e/pages.test.ts).
 */

/** One browser's cookies, as a jar of name → value (path and expiry are the server's business here). */
class Browser {
  readonly cookies = new Map<string, string>();

  constructor(
    readonly origin: string,
    private readonly headers: Record<string, string> = {},
  ) {}

  async get(path: string): Promise<Response> {
    return this.keep(await fetch(`${this.origin}${path}`, { headers: this.header(), redirect: "manual" }));
  }

  async post(path: string, form: Record<string, string>, headers: Record<string, string> = {}): Promise<Response> {
    return this.keep(await fetch(`${this.origin}${path}`, {
      method: "POST",
      headers: { ...this.header(), "content-type": "application/x-www-form-urlencoded", ...headers },
      body: new URLSearchParams(form).toString(),
      redirect: "manual",
    }));
  }

  /** The CSRF token of the form `path` renders. */
  async csrf(path = "/auth/sign-in"): Promise<string> {
    const text = await (await this.get(path)).text();
    return /name="csrf" value="([^"]+)"/.exec(text)![1]!;
  }

  private header(): Record<string, string> {
    const cookie = [...this.cookies].map(([name, value]) => `${name}=${value}`).join("; ");
    return { ...this.headers, ...(cookie ? { cookie } : {}) };
  }

  private keep(response: Response): Response {
    for (const line of response.headers.getSetCookie()) {
      const [pair] = line.split(";");
      const [name, value] = [pair!.slice(0, pair!.indexOf("=")), pair!.slice(pair!.indexOf("=") + 1)];
      if (/Expires=Thu, 01 Jan 1970/.test(line) || value === "") this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    return response;
  }
}

let redis: TestRedis;
let mailbox: Mailbox;
let api: TestApi;
let origin: string;
const APP = "http://localhost:3999";

beforeAll(async () => {
  redis = await startRedis();
  mailbox = await Mailbox.start();
  const port = await freePort();
  origin = `http://localhost:${port}`;
  api = await startApi(redis.url, { PORT: String(port), ALLOWED_REDIRECT_URLS: `${APP}/*`, LOGIN_MAX_FAILURES: "3", MAIL_URL: mailbox.url });
});

afterAll(async () => {
  await api?.stop();
  await mailbox?.stop();
  await redis?.destroy();
});

async function signIn(browser: Browser, email: string, extra: Record<string, string> = {}): Promise<Response> {
  return browser.post("/auth/sign-in", { csrf: await browser.csrf(), email, password: PASSWORD, ...extra });
}

describe("the hosted pages over HTTP", () => {
  it("answers every page with a strict policy that allows no inline script and no framing", async () => {
    for (const path of ["/auth/sign-in", "/auth/sign-up", "/auth/forgot-password", "/auth/reset-password?token=a.b", "/auth/verify-email?token=a.b", "/auth/confirm-email-change?token=a.b", "/auth/mfa", "/auth/account"]) {
      const response = await fetch(`${origin}${path}`, { redirect: "manual" });
      const policy = response.headers.get("content-security-policy")!;
      expect(policy).toMatch(/default-src 'none'/);
      expect(policy).toMatch(/script-src 'self'(;|$)/);
      expect(policy).toMatch(/frame-ancestors 'none'/);
      expect(policy).not.toMatch(/unsafe/);
      expect(response.headers.get("cache-control")).toBe("no-store");
      expect(response.headers.get("x-frame-options")).toBe("DENY");
    }
  });

  it("refuses a form without this browser's CSRF token, and one posted from another origin", async () => {
    const email = uniqueEmail("pages-csrf");
    await register(api.url, { email });
    const browser = new Browser(origin);
    const token = await browser.csrf();
    expect((await browser.post("/auth/sign-in", { email, password: PASSWORD })).status).toBe(403);
    expect((await browser.post("/auth/sign-in", { csrf: "forged", email, password: PASSWORD })).status).toBe(403);
    // Another browser's token does not fit this browser's cookie.
    expect((await browser.post("/auth/sign-in", { csrf: await new Browser(origin).csrf(), email, password: PASSWORD })).status).toBe(403);
    expect((await browser.post("/auth/sign-in", { csrf: token, email, password: PASSWORD }, { origin: "https://evil.example" })).status).toBe(403);
    expect((await browser.post("/auth/sign-in", { csrf: token, email, password: PASSWORD }, { origin })).status).toBe(303);
  });

  it("follows redirect_to only inside ALLOWED_REDIRECT_URLS, handing the session to the app's refresh cookie", async () => {
    const email = uniqueEmail("pages-redirect");
    await register(api.url, { email });
    const away = new Browser(origin);
    const refused = await signIn(away, email, { redirect_to: "https://evil.example/steal" });
    expect(refused.headers.get("location")).toBe("/auth/account");
    expect(away.cookies.has("auth_refresh")).toBe(true);

    const app = new Browser(origin);
    const followed = await signIn(app, email, { redirect_to: `${APP}/signed-in?x=1` });
    expect(followed.status).toBe(303);
    expect(followed.headers.get("location")).toBe(`${APP}/signed-in?x=1`);
    const cookies = followed.headers.getSetCookie();
    expect(cookies.some((line) => line.startsWith("refresh_token=") && line.includes("Path=/graphql") && line.includes("HttpOnly"))).toBe(true);
    // One refresh token, one holder: the pages keep the access token only.
    expect(app.cookies.has("auth_refresh")).toBe(false);
    expect(app.cookies.has("auth_access")).toBe(true);
  });

  it("counts a page's failed sign-ins in the same throttle as the login mutation", async () => {
    const email = uniqueEmail("pages-throttle");
    await register(api.url, { email });
    const browser = new Browser(origin);
    for (let attempt = 0; attempt < 3; attempt++) {
      const failed = await browser.post("/auth/sign-in", { csrf: await browser.csrf(), email, password: "not the password" });
      expect(failed.status).toBe(401);
      expect(await failed.text()).toContain("INVALID_CREDENTIALS");
    }
    const throttled = await post(api.url, { query: "mutation($e: String!, $p: String!) { login(input: {email: $e, password: $p}) { sessionId } }", variables: { e: email, p: PASSWORD } });
    expect(throttled.error?.reason).toBe("LOGIN_THROTTLED");
    const page = await browser.post("/auth/sign-in", { csrf: await browser.csrf(), email, password: PASSWORD });
    expect(page.status).toBe(429);
    expect(page.headers.get("retry-after")).toMatch(/^\d+$/);
    expect(await page.text()).toContain("LOGIN_THROTTLED");
  });

  it("ends the page session at the next request once its session is revoked elsewhere", async () => {
    const email = uniqueEmail("pages-revoked");
    await register(api.url, { email });
    const browser = new Browser(origin);
    await signIn(browser, email);
    expect((await browser.get("/auth/account")).status).toBe(200);
    const other = await login(api.url, email);
    const ended = await post(api.url, { query: "mutation { logoutAll }" }, { token: other.accessToken });
    // register's session, the page's and this one.
    expect(ended.data).toEqual({ logoutAll: 3 });
    const after = await browser.get("/auth/account");
    expect(after.status).toBe(303);
    expect(after.headers.get("location")).toBe("/auth/sign-in");
    expect(browser.cookies.has("auth_access")).toBe(false);
  });

  it("chooses the language from Accept-Language and says so in lang", async () => {
    const german = await (await new Browser(origin, { "accept-language": "de-CH, de;q=0.9, en;q=0.5" }).get("/auth/sign-in")).text();
    expect(german).toContain('<html lang="de">');
    expect(german).toContain(">Anmelden</button>");
    const other = await (await new Browser(origin, { "accept-language": "ja" }).get("/auth/sign-in")).text();
    expect(other).toContain('<html lang="en">');
  });

  it("shows BRAND_NAME and BRAND_LOGO_URL, and lets the logo's origin through the policy", async () => {
    const port = await freePort();
    const branded = await startApi(redis.url, { PORT: String(port), BRAND_NAME: "Acme <Corp>", BRAND_LOGO_URL: "https://cdn.example.com/logo.svg" });
    try {
      const response = await fetch(`http://localhost:${port}/auth/sign-in`);
      const text = await response.text();
      expect(text).toContain("Acme &lt;Corp&gt;");
      expect(text).toContain('src="https://cdn.example.com/logo.svg"');
      expect(response.headers.get("content-security-policy")).toContain("img-src 'self' data: https://cdn.example.com");
    } finally {
      await branded.stop();
    }
  });

  it("points mail links to the pages when APP_URL is unset, with the token in the query", async () => {
    const email = uniqueEmail("pages-links");
    await register(api.url, { email });
    const browser = new Browser(origin);
    await browser.post("/auth/forgot-password", { csrf: await browser.csrf("/auth/forgot-password"), email });
    const link = linkIn(await mailbox.nth(email, /Reset your password/));
    expect(link.startsWith(`${origin}/auth/reset-password?token=`)).toBe(true);
    // Opening the link spends nothing (mail scanners fetch links): the form carries the token to a POST.
    const page = await browser.get(link.slice(origin.length));
    expect(await page.text()).toMatch(/<input type="hidden" name="token" value="[^"]+">/);
  });

  it("mails a reset link in the language the page was shown in, from the same catalogs", async () => {
    const email = uniqueEmail("pages-german");
    await register(api.url, { email });
    const browser = new Browser(origin, { "accept-language": "de-DE,de;q=0.9" });
    await browser.post("/auth/forgot-password", { csrf: await browser.csrf("/auth/forgot-password"), email });
    const mail = await mailbox.nth(email, /Passwort zurücksetzen/);
    expect(mail.text).toContain(`Jemand möchte das Passwort des Kontos für ${email} zurücksetzen.`);
    // The mutation's mail follows the request's Accept-Language too; without one, English.
    await post(api.url, { query: "mutation($e: String!) { requestPasswordReset(email: $e) }", variables: { e: email } });
    await mailbox.nth(email, /^Reset your password$/);
  });

  it("mails the notices a German page causes in German: the link's lifetime, and the password changed by the reset", async () => {
    const email = uniqueEmail("pages-german-notice");
    await register(api.url, { email });
    const browser = new Browser(origin, { "accept-language": "de-DE,de;q=0.9" });
    await browser.post("/auth/forgot-password", { csrf: await browser.csrf("/auth/forgot-password"), email });
    const reset = await mailbox.nth(email, /Passwort zurücksetzen/);
    expect(reset.text).toMatch(/innerhalb von \d+ (Minuten|Stunden)/);
    const link = linkIn(reset);
    const token = new URL(link).searchParams.get("token")!;
    await browser.post("/auth/reset-password", { csrf: await browser.csrf(link.slice(origin.length)), token, newPassword: "a new password that is long enough" });
    const changed = await mailbox.nth(email, /^Ihr Passwort wurde geändert$/);
    expect(changed.text).toContain(`Das Passwort des Kontos für ${email} wurde soeben über einen an diese Adresse geschickten Link zurückgesetzt.`);
    expect(changed.html).toContain("Wenn Sie das nicht waren");
  });

  it("mails a credential notice in the language of the request that changed the credential: TOTP turned on from a German client", async () => {
    const email = uniqueEmail("pages-german-totp");
    const { accessToken } = await register(api.url, { email });
    const german = { token: accessToken, headers: { "accept-language": "de-DE,de;q=0.9" } };
    const secret = (await send(api.url, EnrollTotpDocument, { currentPassword: PASSWORD }, german)).data!.enrollTotp.secret;
    expect((await send(api.url, ConfirmTotpDocument, { code: totpCode(secret, stepAt(Date.now())) }, german)).error).toBeUndefined();
    const notice = await mailbox.nth(email, /^Die Anmeldung in zwei Schritten wurde eingeschaltet$/);
    expect(notice.text).toContain(`Für das Konto ${email} wurde soeben von dem Gerät „`);
    expect(notice.text).toContain("“ aus die Anmeldung in zwei Schritten mit einer Authenticator-App eingeschaltet.");
  });

  it("turns TOTP on, makes new recovery codes and turns it off from the account page, each with a current code", async () => {
    const clock = testClock();
    const port = await freePort();
    const timed = await startApi(redis.url, { PORT: String(port) }, clock);
    try {
      const email = uniqueEmail("pages-totp");
      await register(timed.url, { email });
      const browser = new Browser(`http://localhost:${port}`);
      await signIn(browser, email);
      const csrf = await browser.csrf("/auth/account");
      const enrolment = await (await browser.post("/auth/account/totp/enrol", { csrf })).text();
      const secret = /type the key ([A-Z2-7]+)/.exec(enrolment)![1]!;
      expect(enrolment).toMatch(/<img class="qr" src="data:image\/svg\+xml;base64,[A-Za-z0-9+/=]+" alt="QR code for your authenticator app"/);
      const confirmed = await (await browser.post("/auth/account/totp/confirm", { csrf, confirmCode: totpCode(secret, clock.step()) })).text();
      expect(confirmed.match(/<li><code>/g)).toHaveLength(10);

      clock.advanceSteps(1);
      const wrong = await browser.post("/auth/account/totp/recovery-codes", { csrf, codesCode: "123456" === totpCode(secret, clock.step()) ? "654321" : "123456" });
      expect(wrong.status).toBe(400);
      expect(await wrong.text()).toMatch(/id="field-codesCode-error">[^<]*<span class="reason">\(INVALID_MFA_CODE\)/);
      const codes = await (await browser.post("/auth/account/totp/recovery-codes", { csrf, codesCode: totpCode(secret, clock.step()) })).text();
      expect(codes.match(/<li><code>/g)).toHaveLength(10);

      clock.advanceSteps(1);
      const off = await browser.post("/auth/account/totp/disable", { csrf, disableCode: totpCode(secret, clock.step()) });
      expect(off.status).toBe(303);
      expect(await (await browser.get("/auth/account")).text()).toContain("Two-step verification is off.");
    } finally {
      await timed.stop();
    }
  });

  it("HOSTED_PAGES=off removes every route, and mail links go to APP_URL again", async () => {
    const off = await startApi(redis.url, { HOSTED_PAGES: "off", MAIL_URL: mailbox.url });
    try {
      for (const path of ["/auth/sign-in", "/auth/account", "/auth/assets/pages.css"]) {
        expect((await fetch(`${off.url.replace("/graphql", "")}${path}`)).status).toBe(404);
      }
      const email = uniqueEmail("pages-off");
      await register(off.url, { email });
      await post(off.url, { query: "mutation($e: String!) { requestPasswordReset(email: $e) }", variables: { e: email } });
      expect(linkIn(await mailbox.nth(email, /Reset your password/)).startsWith("http://localhost:3000/reset-password#token=")).toBe(true);
    } finally {
      await off.stop();
    }
  });
});
