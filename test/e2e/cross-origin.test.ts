import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { build } from "esbuild";
import { chromium, type BrowserContext, type Page } from "playwright-core";
import { LogoutAllDocument } from "../../schema/generated/graphql";
import { startApi, type TestApi } from "../support/api";
import { login, PASSWORD, register, send } from "../support/client";
import { CHROMIUM_ARGS, describeWithChromium } from "../support/chromium";

describeWithChromium("a SPA on another origin than the API, in Chromium", (CHROMIUM) => {
  // The page on 127.0.0.1:A, the API on 127.0.0.1:B: two origins of one site, as app.example.com
  // and api.example.com are. CORS_ORIGINS lets the page call the API; the refresh cookie stays
  // first-party and SameSite=Strict. (Across sites it would be a third-party cookie, which
  // Chromium, like Safari and Firefox, blocks by default: docs/clients.md says so.)
  jest.setTimeout(60_000);

  interface Spa {
    signIn(email: string, password: string): Promise<string>;
    token(): Promise<string | null>;
    me(): Promise<string>;
    status(): string;
    events(): { event: string; reason: string | null }[];
  }
  /** Calls the page's SPA (its test handle on globalThis), in the page. */
  const onSpa = <T>(page: Page, call: (spa: Spa, arg: string) => Promise<T> | T, arg = "") =>
    page.evaluate(([source, value]) => (0, eval)(`(${source})`)((globalThis as unknown as { spa: Spa }).spa, value), [call.toString(), arg] as const) as Promise<T>;

  let pages: Server;
  let pageOrigin: string;
  let api: TestApi;
  /** The API's GraphQL URL on 127.0.0.1, as the page calls it. */
  let apiUrl: string;
  let userDataDir: string;
  let context: BrowserContext;
  let page: Page;
  const pageErrors: string[] = [];
  const sockets: { url: string; closed: boolean }[] = [];

  beforeAll(async () => {
    const bundle = await build({
      entryPoints: [resolve(__dirname, "browser/cross-origin-spa.mts")],
      bundle: true,
      write: false,
      format: "esm",
      platform: "browser",
      alias: { "@revocable-auth/client": resolve(__dirname, "../../packages/client/src/index.ts") },
      logLevel: "silent",
    });
    const script = bundle.outputFiles[0]!.text;
    pages = createServer((request, response) => {
      if (request.url === "/app.js") return void response.writeHead(200, { "content-type": "text/javascript" }).end(script);
      response.writeHead(200, { "content-type": "text/html; charset=utf-8" }).end('<!doctype html><title>SPA</title><script type="module" src="/app.js"></script>');
    });
    await new Promise<void>((ready) => pages.listen(0, "127.0.0.1", ready));
    pageOrigin = `http://127.0.0.1:${(pages.address() as AddressInfo).port}`;
    api = await startApi(null, { HOST: "127.0.0.1", CORS_ORIGINS: pageOrigin });
    apiUrl = api.url.replace("//localhost:", "//127.0.0.1:");
    expect(new URL(apiUrl).origin).not.toBe(pageOrigin);

    // A profile of its own, as a user's browser: an incognito context blocks third-party cookies.
    userDataDir = mkdtempSync(join(tmpdir(), "cross-origin-chromium-"));
    context = await chromium.launchPersistentContext(userDataDir, { executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
    page = context.pages()[0] ?? (await context.newPage());
    page.on("pageerror", (error) => pageErrors.push(error.message));
    page.on("websocket", (socket) => {
      const seen = { url: socket.url(), closed: false };
      sockets.push(seen);
      socket.on("close", () => (seen.closed = true));
    });
  });

  afterAll(async () => {
    await context?.close();
    await api?.stop();
    await new Promise((done) => pages?.close(done));
    if (userDataDir) rmSync(userDataDir, { recursive: true, force: true });
  });

  const open = async () => {
    // The sockets of this load only: those of a page navigated away from report no close.
    sockets.length = 0;
    await page.goto(`${pageOrigin}/?api=${encodeURIComponent(apiUrl)}`);
    await page.waitForFunction("globalThis.spa !== undefined");
  };

  let email: string;

  it("signs in across origins, with the refresh token in the API's HttpOnly, Secure, SameSite=Strict cookie", async () => {
    email = (await register(api.url)).user.email;
    await open();
    expect(await onSpa(page, (spa, address) => spa.signIn(address, "correct horse battery staple"), email)).toBe(email);
    expect(await onSpa(page, (spa) => spa.me())).toBe(email);
    const cookie = (await context.cookies(apiUrl)).find((c) => c.name === "refresh_token");
    expect(cookie).toMatchObject({ httpOnly: true, secure: true, sameSite: "Strict", path: "/graphql", domain: "127.0.0.1" });
    // Not readable from the page's origin, nor stored there.
    expect(await page.evaluate("document.cookie + JSON.stringify(localStorage)")).toBe("{}");
  });

  it("after a reload, gets a token again through the cookie (one refresh across origins)", async () => {
    await open();
    expect(await onSpa(page, (spa) => spa.token())).toMatch(/^eyJ/);
    expect(await onSpa(page, (spa) => spa.status())).toBe("signedIn");
    expect(await onSpa(page, (spa) => spa.me())).toBe(email);
  });

  it("hears a sign-out elsewhere on its live socket: the socket closes and the page is signed out", async () => {
    // The reloaded page opens its socket once it holds a token.
    const deadline = Date.now() + 10_000;
    while (!sockets.some((socket) => !socket.closed && socket.url.startsWith(apiUrl.replace(/^http/, "ws")))) {
      if (Date.now() > deadline) throw new Error(`no open live socket: ${JSON.stringify(sockets)}`);
      await page.waitForTimeout(50);
    }
    const other = await login(api.url, email, PASSWORD, "another device");
    expect((await send(api.url, LogoutAllDocument, {}, { token: other.accessToken })).data?.logoutAll).toBeGreaterThanOrEqual(2);
    await page.waitForFunction("globalThis.spa.status() === 'signedOut'", undefined, { timeout: 10_000 });
    const closedBy = Date.now() + 5_000;
    while (sockets.some((socket) => !socket.closed) && Date.now() < closedBy) await page.waitForTimeout(50);
    expect(sockets.filter((socket) => !socket.closed)).toEqual([]);
    const events = await onSpa(page, (spa) => spa.events());
    expect(events.at(-1)).toEqual({ event: "SIGNED_OUT", reason: "TOKEN_REVOKED" });
    expect(await onSpa(page, (spa) => spa.token())).toBeNull();
    expect(pageErrors).toEqual([]);
  });
});
