import { resolve } from "node:path";
import { build } from "esbuild";
import { chromium, type Browser, type Page } from "playwright-core";
import { RefreshDocument } from "../../schema/generated/graphql";
import { startApi, type TestApi } from "../support/api";
import { login, register, send } from "../support/client";
import { wsUrl } from "../support/live";
import { CHROMIUM_ARGS, describeWithChromium } from "../support/chromium";

describeWithChromium("Apollo Client over WebSocket in Chromium", (CHROMIUM) => {

  // Starting Chromium takes seconds, not the milliseconds of HTTP tests.
  jest.setTimeout(60_000);

  /** Debian's Chromium, launched as in explorer.test.ts: the tests never download a browser. */

  interface PageLive {
    connected: number;
    closes: { code: number; reason: string }[];
    events: { type: string; device: string | null }[];
    errors: string[];
  }

  let api: TestApi;
  let browser: Browser;
  let page: Page;
  const consoleLines: string[] = [];

  beforeAll(async () => {
    api = await startApi(null, { ACCESS_TOKEN_TTL: "2" });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    page = await browser.newPage();
    page.on("console", (message) => consoleLines.push(message.text()));
  });
  afterAll(async () => {
    await browser?.close();
    await api?.stop();
  });

  const liveState = () => page.evaluate(() => (globalThis as unknown as { live: PageLive }).live);

  async function until(what: string, check: (state: PageLive) => boolean, withinMs = 10_000): Promise<PageLive> {
    const deadline = Date.now() + withinMs;
    for (;;) {
      const state = await liveState();
      if (check(state)) return state;
      if (Date.now() > deadline) throw new Error(`${what}: ${JSON.stringify(state)}\n${consoleLines.join("\n")}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  it("Apollo Client's GraphQLWsLink in Chromium reconnects with a refreshed token after 4403 TOKEN_EXPIRED, and its subscription goes on", async () => {
    const bundle = await build({
      entryPoints: [resolve(__dirname, "browser/apollo-live.ts")],
      bundle: true,
      write: false,
      format: "iife",
      platform: "browser",
      define: { "process.env.NODE_ENV": '"production"', "globalThis.__DEV__": "false" },
      logLevel: "silent",
    });
    let session = await register(api.url, { device: "browser" });
    let handedOut = 0;
    await page.exposeFunction("freshToken", async () => {
      // The first connection uses the login's token; each later one refreshes first, as an app would.
      if (handedOut++ > 0) session = (await send(api.url, RefreshDocument, { refreshToken: session.refreshToken! })).data!.refresh;
      return session.accessToken;
    });
    // A page on the API's own origin (its health answer), as an app served beside it would be.
    await page.goto(api.url.replace(/graphql$/, "healthz"));
    await page.addScriptTag({ content: bundle.outputFiles[0]!.text });
    await page.evaluate((url) => (globalThis as unknown as { startLive(url: string): void }).startLive(url), wsUrl(api.url));
    await until("connected", (state) => state.connected === 1);

    const reconnected = await until("closed with 4403 and reconnected", (state) => state.connected >= 2, 8000);
    expect(reconnected.closes[0]).toEqual({ code: 4403, reason: "TOKEN_EXPIRED" });
    expect(handedOut).toBeGreaterThanOrEqual(2);

    await login(api.url, session.user.email, undefined, "phone");
    const heard = await until("heard SIGNED_IN on the reconnected socket", (state) => state.events.length > 0);
    expect(heard.events[0]).toMatchObject({ type: "SIGNED_IN", device: "phone" });
    expect(heard.errors).toEqual([]);
  });
});
