import { existsSync } from "node:fs";
import type { Browser, BrowserContext, Page } from "playwright-core";

/** Launch flags for every browser test: headless, no sandbox (CI containers), nothing fetched in the background. */
export const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/** Where Chromium (or Chrome) usually is, after CHROMIUM_PATH: Debian/Ubuntu, snap, macOS, Windows. */
export const USUAL_CHROMIUM_PATHS = [
  "/usr/bin/chromium",
  "/usr/bin/chromium-browser",
  "/snap/bin/chromium",
  "/usr/bin/google-chrome",
  "/usr/bin/google-chrome-stable",
  "/Applications/Chromium.app/Contents/MacOS/Chromium",
  "/Applications/Google Chrome.app/Contents/MacOS/Google Chrome",
  "C:\\Program Files\\Google\\Chrome\\Application\\chrome.exe",
];

/** What a browser suite does here: run with this executable, skip (saying why), or fail (in CI, where a browser is required). */
export type ChromiumDecision = { readonly run: string } | { readonly skip: string } | { readonly fail: string };

/** The tests never download a browser: CHROMIUM_PATH, else the first usual location that exists. */
export function decideChromium(env: NodeJS.ProcessEnv = process.env, exists: (path: string) => boolean = existsSync): ChromiumDecision {
  const given = env.CHROMIUM_PATH;
  const found = given ? (exists(given) ? given : null) : (USUAL_CHROMIUM_PATHS.find((path) => exists(path)) ?? null);
  if (found) return { run: found };
  const why = given
    ? `CHROMIUM_PATH=${given} does not exist`
    : `no Chromium found (set CHROMIUM_PATH, or install it at one of ${USUAL_CHROMIUM_PATHS.join(", ")})`;
  return env.CI === "true" ? { fail: `${why}: CI=true requires the browser tests` } : { skip: `browser tests skipped: ${why}` };
}

/**
 * A describe block for a suite that needs Chromium: given the executable when there is one;
 * otherwise one skipped test whose name says why, or, with CI=true, one failing test.
 */
export function describeWithChromium(name: string, suite: (executablePath: string) => void): void {
  const decision = decideChromium();
  if ("run" in decision) return describe(name, () => suite(decision.run));
  describe(name, () => {
    if ("skip" in decision) {
      // Shown in jest's output: a whole skipped suite lists no test names.
      console.warn(`${name}: ${decision.skip}`);
      it.skip(decision.skip, () => undefined);
    }
    else
      it("has a Chromium to run in", () => {
        throw new Error(decision.fail);
      });
  });
}

/**
 * A fresh browser profile (cookies of its own), as a second device would be, at a phone-ish width.
 * Every Content-Security-Policy refusal its page reports goes to `violations`: the pages' policy
 * must refuse nothing they do.
 */
export async function newDevice(browser: Browser, violations: string[]): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({ viewport: { width: 640, height: 900 } });
  const page = await context.newPage();
  page.on("console", (message) => {
    if (/Content.Security.Policy|Refused to/i.test(message.text())) violations.push(message.text());
  });
  return { context, page };
}
