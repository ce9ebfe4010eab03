import { startApi, type TestApi } from "../support/api";
import { ConfirmTotpDocument, EnrollTotpDocument, ReauthenticateDocument, RegisterDocument, RequestEmailChangeDocument, RequestPasswordResetDocument, VerifyMfaDocument } from "../../schema/generated/graphql";
import { login, PASSWORD, post, register, send, uniqueEmail } from "../support/client";
import { linkIn, Mailbox } from "../support/mailbox";
import { freePort, startRedis, type TestRedis } from "../support/redis";
import { startApiWithProvider } from "../support/oidc";
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

/** Turns TOTP on for the signed-in `accessToken` through the API; the secret and the confirming step. */
async function totpOn(url: string, accessToken: string, at: number = Date.now()): Promise<{ secret: string; step: number; recoveryCodes: string[] }> {
  const secret = (await send(url, EnrollTotpDocument, { currentPassword: PASSWORD }, { token: accessToken })).data!.enrollTotp.secret;
  const confirmed = await send(url, ConfirmTotpDocument, { code: totpCode(secret, stepAt(at)) }, { token: accessToken });
  return { secret, step: stepAt(at), recoveryCodes: confirmed.data!.confirmTotp.recoveryCodes };
}

describe("the account page's re-authentication and TOTP enrolment (REAUTH_MAX_AGE_SECONDS=1, a test clock)", () => {
  const clock = testClock();
  let timed: TestApi;
  let timedOrigin: string;

  beforeAll(async () => {
    const port = await freePort();
    timedOrigin = `http://localhost:${port}`;
    timed = await startApi(redis.url, { PORT: String(port), REAUTH_MAX_AGE_SECONDS: "1", LOGIN_MAX_FAILURES: "3" }, clock);
  });

  afterAll(async () => {
    await timed?.stop();
  });

  /** A new account signed in on the pages: its browser, address and the account page's CSRF token. */
  async function signedIn(label: string): Promise<{ browser: Browser; email: string; csrf: string }> {
    const email = uniqueEmail(label);
    await register(timed.url, { email });
    const browser = new Browser(timedOrigin);
    await signIn(browser, email);
    return { browser, email, csrf: await browser.csrf("/auth/account") };
  }

  it("asks for the password once the sign-in is too old, shows a wrong one at its field, and lets the action through after", async () => {
    const { browser, csrf } = await signedIn("pages-reauth");
    clock.advanceSteps(1);

    const refused = await browser.post("/auth/account/totp/enrol", { csrf });
    expect(refused.status).toBe(403);
    const form = await refused.text();
    expect(form).toContain("(REAUTHENTICATION_REQUIRED)");
    expect(form).toMatch(/<form method="post" action="\/auth\/account\/reauthenticate" novalidate><input type="hidden" name="csrf" value="[^"]+">/);
    expect(form).toContain('<label for="field-reauthPassword">Password</label>');
    // Without TOTP, the password is the only way back.
    expect(form).not.toContain('name="reauthCode"');

    // The form is guarded like every other.
    expect((await browser.post("/auth/account/reauthenticate", { reauthPassword: PASSWORD })).status).toBe(403);

    const wrong = await browser.post("/auth/account/reauthenticate", { csrf, reauthPassword: "not the password" });
    expect(wrong.status).toBe(401);
    const wrongText = await wrong.text();
    expect(wrongText).toMatch(/id="field-reauthPassword"[^>]*aria-describedby="field-reauthPassword-error" aria-invalid="true"/);
    expect(wrongText).toMatch(/<p class="error" id="field-reauthPassword-error">[^<]*<span class="reason">\(INVALID_CREDENTIALS\)<\/span><\/p>/);
    expect(wrongText).toContain('action="/auth/account/reauthenticate"');

    // The passkey script's way in (its options answered REAUTHENTICATION_REQUIRED): the same form.
    expect(await (await browser.get("/auth/account?reauthenticate=1")).text()).toContain('<label for="field-reauthPassword">Password</label>');
    expect(await (await browser.get("/auth/account")).text()).not.toContain('action="/auth/account/reauthenticate"');
    const options = await browser.post("/auth/account/passkeys/options", { csrf });
    expect(options.status).toBe(403);
    expect(((await options.json()) as { error: { reason: string } }).error.reason).toBe("REAUTHENTICATION_REQUIRED");

    const confirmed = await browser.post("/auth/account/reauthenticate", { csrf, reauthPassword: PASSWORD });
    expect(confirmed.status).toBe(303);
    expect(confirmed.headers.get("location")).toBe("/auth/account");
    const account = await (await browser.get("/auth/account")).text();
    expect(account).not.toContain('action="/auth/account/reauthenticate"');
    // The action again: the session counts as recently authenticated now.
    const enrolment = await browser.post("/auth/account/totp/enrol", { csrf });
    expect(enrolment.status).toBe(200);
    expect(await enrolment.text()).toMatch(/<img class="qr" src="data:image\/svg\+xml;base64,/);
  });

  it("takes a code instead of the password for an account with TOTP, and counts wrong passwords in the login throttle", async () => {
    const email = uniqueEmail("pages-reauth-code");
    const { accessToken } = await register(timed.url, { email });
    const { secret, step, recoveryCodes } = await totpOn(timed.url, accessToken, clock.now());
    const browser = new Browser(timedOrigin);
    await signIn(browser, email);
    clock.advanceSteps(1);
    const mfa = await browser.post("/auth/mfa", { csrf: await browser.csrf("/auth/mfa"), code: totpCode(secret, clock.step()) });
    expect(mfa.headers.get("location")).toBe("/auth/account");
    const csrf = await browser.csrf("/auth/account");
    clock.advanceSteps(1);

    const refused = await browser.post("/auth/account/totp/recovery-codes", { csrf, codesCode: totpCode(secret, clock.step()) });
    expect(refused.status).toBe(403);
    const form = await refused.text();
    expect(form).toContain("(REAUTHENTICATION_REQUIRED)");
    expect(form).toContain('<label for="field-reauthCode">Code</label>');
    expect(step).toBeLessThan(clock.step());

    const wrongCode = await browser.post("/auth/account/reauthenticate", { csrf, reauthCode: "000000" === totpCode(secret, clock.step()) ? "111111" : "000000" });
    expect(wrongCode.status).toBe(400);
    expect(await wrongCode.text()).toMatch(/id="field-reauthCode-error">[^<]*<span class="reason">\(INVALID_MFA_CODE\)/);
    // A recovery code is spent on it, as by reauthenticate; the TOTP code of this step stays for the action.
    expect((await browser.post("/auth/account/reauthenticate", { csrf, reauthCode: recoveryCodes[0]! })).status).toBe(303);
    const codes = await browser.post("/auth/account/totp/recovery-codes", { csrf, codesCode: totpCode(secret, clock.step()) });
    expect(codes.status).toBe(200);
    expect((await codes.text()).match(/<li><code>/g)).toHaveLength(10);

    // The same throttle as the mutation's password check: LOGIN_MAX_FAILURES=3 spent on the page.
    for (let attempt = 0; attempt < 3; attempt++) {
      expect((await browser.post("/auth/account/reauthenticate", { csrf, reauthPassword: "not the password" })).status).toBe(401);
    }
    const throttled = await send(timed.url, ReauthenticateDocument, { input: { password: PASSWORD } }, { token: browser.cookies.get("auth_access")! });
    expect(throttled.error?.reason).toBe("LOGIN_THROTTLED");
  });

  it("redraws the enrolment step after a wrong confirming code: the same QR code, the error by the code field", async () => {
    const { browser, csrf } = await signedIn("pages-totp-wrong");
    const enrolment = await (await browser.post("/auth/account/totp/enrol", { csrf })).text();
    const secret = /type the key ([A-Z2-7]+)/.exec(enrolment)![1]!;
    const qr = /<img class="qr" src="([^"]+)"/.exec(enrolment)![1]!;
    // The form names the enrolment by a digest: the key itself never comes back in a request body.
    const ref = /<input type="hidden" name="enrolment" value="([^"]+)">/.exec(enrolment)![1]!;
    expect(ref).not.toContain(secret);
    expect(enrolment).not.toContain(`value="${secret}"`);

    const right = totpCode(secret, clock.step());
    const wrong = await browser.post("/auth/account/totp/confirm", { csrf, enrolment: ref, confirmCode: right === "123456" ? "654321" : "123456" });
    expect(wrong.status).toBe(400);
    const again = await wrong.text();
    expect(again).toContain(`<img class="qr" src="${qr}"`);
    expect(again).toContain(`type the key ${secret}`);
    expect(again).toMatch(/<p class="error" id="field-confirmCode-error">[^<]*<span class="reason">\(INVALID_MFA_CODE\)<\/span><\/p>/);
    expect(again).toMatch(/id="field-confirmCode"[^>]*aria-invalid="true"/);
    // Malformed input is shown there too.
    expect(await (await browser.post("/auth/account/totp/confirm", { csrf, enrolment: ref, confirmCode: "x".repeat(65) })).text()).toMatch(/id="field-confirmCode-error">[^<]*<span class="reason">\(INVALID_INPUT\)/);
    // Only the waiting enrolment is redrawn: one it does not name gets no QR code, nor does the raw key.
    for (const other of ["AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", secret]) {
      const page = await (await browser.post("/auth/account/totp/confirm", { csrf, enrolment: other, confirmCode: "x".repeat(65) })).text();
      expect(page).not.toContain('class="qr"');
    }
    const stale = await (await browser.post("/auth/account/totp/confirm", { csrf, enrolment: "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", confirmCode: right === "123456" ? "654321" : "123456" })).text();
    expect(stale).not.toContain('class="qr"');
    // Its error is then the page's, not a link to a field that is not there.
    expect(stale).toMatch(/<li>[^<]+<span class="reason">\(INVALID_MFA_CODE\)<\/span><\/li>/);
    expect(stale).not.toContain('href="#field-confirmCode"');

    const confirmed = await (await browser.post("/auth/account/totp/confirm", { csrf, enrolment: ref, confirmCode: right })).text();
    expect(confirmed.match(/<li><code>/g)).toHaveLength(10);
  });
});

describe("what the pages show, and the throttles and tokens they share with the API", () => {
  it("lists each session's start and last use, and the recent security events, on the account page", async () => {
    const email = uniqueEmail("pages-account-tables");
    await register(api.url, { email });
    const browser = new Browser(origin, { "user-agent": "Pages test browser" });
    await signIn(browser, email);
    const page = await (await browser.get("/auth/account")).text();
    expect(page).toContain('<th scope="col">Device</th><th scope="col">Started</th><th scope="col">Last used</th>');
    expect(page).toMatch(/<tr><th scope="row">Pages test browser<\/th><td><time datetime="[^"]+Z">[^<]+ UTC<\/time><\/td><td><time datetime="[^"]+Z">[^<]+ UTC<\/time><\/td><td><strong>This session<\/strong><\/td><\/tr>/);
    expect(page).toContain('<h2 id="events-heading">Recent security events</h2>');
    expect(page).toContain('<th scope="col">Event</th><th scope="col">When</th><th scope="col">Device</th>');
    expect(page).toMatch(/<tr><td><code>SIGNED_IN<\/code><\/td><td><time datetime="[^"]+">/);
  });

  it("offers a button per sign-in provider, to its start URL with redirect_to", async () => {
    const { api: withProvider, provider, origin: providerApi } = await startApiWithProvider({ redisUrl: redis.url, accounts: {}, env: { ALLOWED_REDIRECT_URLS: `${APP}/*` } });
    try {
      const text = await (await fetch(`${providerApi}/auth/sign-in?redirect_to=${encodeURIComponent(`${APP}/after`)}`)).text();
      const links = [...text.matchAll(/<a class="button secondary" href="([^"]+)">Sign in with ([^<]+)<\/a>/g)];
      expect(links).toHaveLength(1);
      expect(links[0]![1]!.replace(/&amp;/g, "&")).toBe(`/auth/oidc/corp/start?redirect_to=${encodeURIComponent(`${APP}/after`)}`);
      // The link starts the provider sign-in as the README's route table says: a 302 to the provider.
      const start = await fetch(`${providerApi}${links[0]![1]!.replace(/&amp;/g, "&")}`, { redirect: "manual" });
      expect(start.status).toBe(302);
      expect(start.headers.get("location")!.startsWith(provider.issuer)).toBe(true);
    } finally {
      await withProvider.stop();
      await provider.stop();
    }
  });

  it("keeps redirect_to through /auth/mfa, and hands the session to the app after the code", async () => {
    const email = uniqueEmail("pages-mfa-redirect");
    const { accessToken } = await register(api.url, { email });
    const { secret, step } = await totpOn(api.url, accessToken);
    const browser = new Browser(origin);
    const target = `${APP}/after-mfa?x=1`;
    const first = await signIn(browser, email, { redirect_to: target });
    expect(first.headers.get("location")).toBe(`/auth/mfa?redirect_to=${encodeURIComponent(target)}`);
    const form = await (await browser.get(first.headers.get("location")!)).text();
    expect(form).toContain(`<input type="hidden" name="redirect_to" value="${target}">`);
    const csrf = /name="csrf" value="([^"]+)"/.exec(form)![1]!;
    const done = await browser.post("/auth/mfa", { csrf, code: totpCode(secret, step + 1), redirect_to: target });
    expect(done.status).toBe(303);
    expect(done.headers.get("location")).toBe(target);
    expect(done.headers.getSetCookie().some((line) => line.startsWith("refresh_token=") && line.includes("Path=/graphql"))).toBe(true);
  });

  it("confirms and cancels an email change from the real mails' links (APP_URL unset)", async () => {
    const email = uniqueEmail("pages-change-from");
    const newEmail = uniqueEmail("pages-change-to");
    const { accessToken } = await register(api.url, { email });
    expect((await send(api.url, RequestEmailChangeDocument, { newEmail, currentPassword: PASSWORD }, { token: accessToken })).error).toBeUndefined();
    const browser = new Browser(origin);

    const confirmLink = linkIn(await mailbox.nth(newEmail, /Confirm your new email address/));
    expect(confirmLink.startsWith(`${origin}/auth/confirm-email-change?token=`)).toBe(true);
    const confirmForm = await (await browser.get(confirmLink.slice(origin.length))).text();
    const token = /name="token" value="([^"]+)"/.exec(confirmForm)![1]!;
    const confirmed = await browser.post("/auth/confirm-email-change", { csrf: /name="csrf" value="([^"]+)"/.exec(confirmForm)![1]!, token });
    expect(confirmed.status).toBe(200);
    expect(await confirmed.text()).toContain('<p class="notice" role="status">');
    const moved = await login(api.url, newEmail);
    expect(moved.user.email).toBe(newEmail);

    const cancelLink = linkIn(await mailbox.nth(email, /Your email address is about to change/));
    expect(cancelLink.startsWith(`${origin}/auth/cancel-email-change?token=`)).toBe(true);
    const cancelForm = await (await browser.get(cancelLink.slice(origin.length))).text();
    const cancelled = await browser.post("/auth/cancel-email-change", { csrf: /name="csrf" value="([^"]+)"/.exec(cancelForm)![1]!, token: /name="token" value="([^"]+)"/.exec(cancelForm)![1]! });
    expect(cancelled.status).toBe(200);
    expect(await cancelled.text()).toContain('<p class="notice" role="status">');
    // Cancelled after it went through: the account is back at the old address, every session ended.
    const ended = await post(api.url, { query: "{ me { id } }" }, { token: moved.accessToken });
    expect(ended.errors?.[0]?.extensions?.reason).toBe("TOKEN_REVOKED");
    // A spent link shows the API's reason.
    const again = await browser.post("/auth/confirm-email-change", { csrf: await browser.csrf(confirmLink.slice(origin.length)), token });
    expect(again.status).toBe(400);
    expect(await again.text()).toContain("INVALID_MAIL_TOKEN");
  });

  it("counts sign-up, forgot-password and /auth/mfa in the throttles of register, requestPasswordReset and verifyMfa", async () => {
    // A Redis of its own: the per-IP counts start at 0, whatever the suite did before.
    const own = await startRedis();
    const port = await freePort();
    const strict = await startApi(own.url, { PORT: String(port), REGISTER_MAX_PER_IP: "1", RECOVERY_MAX_PER_IP: "1", MFA_MAX_FAILURES: "1", MAIL_URL: mailbox.url });
    try {
      const browser = new Browser(`http://localhost:${port}`);
      const email = uniqueEmail("pages-throttles");
      const signedUp = await browser.post("/auth/sign-up", { csrf: await browser.csrf("/auth/sign-up"), email, password: PASSWORD });
      expect(signedUp.status).toBe(303);
      const registerAgain = await send(strict.url, RegisterDocument, { input: { email: uniqueEmail("pages-throttles-2"), password: PASSWORD } });
      expect(registerAgain.error?.reason).toBe("REGISTER_THROTTLED");

      const asked = await browser.post("/auth/forgot-password", { csrf: await browser.csrf("/auth/forgot-password"), email });
      expect(asked.status).toBe(200);
      const resetAgain = await send(strict.url, RequestPasswordResetDocument, { email });
      expect(resetAgain.error?.reason).toBe("RECOVERY_THROTTLED");

      const { secret, step } = await totpOn(strict.url, browser.cookies.get("auth_access")!);
      const second = new Browser(`http://localhost:${port}`);
      await signIn(second, email);
      const wrong = await second.post("/auth/mfa", { csrf: await second.csrf("/auth/mfa"), code: totpCode(secret, step + 1) === "123456" ? "654321" : "123456" });
      expect(wrong.status).toBe(400);
      const verifyAgain = await send(strict.url, VerifyMfaDocument, { code: totpCode(secret, step + 1) }, { token: second.cookies.get("auth_access")! });
      expect(verifyAgain.error?.reason).toBe("MFA_THROTTLED");
    } finally {
      await strict.stop();
      await own.destroy();
    }
  });
});
