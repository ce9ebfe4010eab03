import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { chromium, type BrowserContext, type Page } from "playwright-core";
import { startApi, type TestApi } from "../support/api";
import { CHROMIUM_ARGS, describeWithChromium } from "../support/chromium";
import { PASSWORD, register, uniqueEmail } from "../support/client";

// Starting Chromium and parsing GraphiQL's bundle take seconds, not the milliseconds of HTTP tests.
jest.setTimeout(60_000);

/** Rewritten only with UPDATE_SCREENSHOT=1, so ordinary runs leave the work tree clean. */
const SCREENSHOT = resolve(__dirname, "../../docs/explorer.png");
const RESPONSE_WITHIN_MS = 15_000;

const QUERY_EDITOR = ".graphiql-query-editor .CodeMirror";
const HEADERS_EDITOR = 'section.graphiql-editor-tool[aria-label="Headers"] .graphiql-editor:not(.hidden) .CodeMirror';
const RESPONSE = ".graphiql-response .CodeMirror";

/**
 * Just enough of the page to read GraphiQL's CodeMirror editors through the instance each hangs on
 * its element (tsconfig has no DOM library). Functions, not strings, go to the page: its content
 * security policy forbids eval.
 */
interface Editor {
  getValue(): string;
  /** What GraphiQL last parsed from the query editor. */
  documentAST?: { loc?: { source: { body: string } } } | null;
}
type PageGlobals = { document: { querySelector(selector: string): { CodeMirror: Editor } | null }; localStorage: object };

function editorText(page: Page, selector: string): Promise<string> {
  return page.evaluate((s) => (globalThis as unknown as PageGlobals).document.querySelector(s)?.CodeMirror.getValue() ?? "", selector);
}

/** Replaces an editor's text as a person would: click in, select all, type (as one input, so no brackets get auto-closed). */
async function typeInto(page: Page, selector: string, text: string): Promise<void> {
  await page.click(selector);
  await page.keyboard.press("ControlOrMeta+A");
  await page.keyboard.insertText(text);
  expect(await editorText(page, selector)).toBe(text);
}

/** GraphiQL takes the operation to run from what it parsed 100 ms after the last edit; running sooner sends a stale name. */
async function untilQueryParsed(page: Page): Promise<void> {
  await page.waitForFunction((s) => {
    const editor = (globalThis as unknown as PageGlobals).document.querySelector(s)?.CodeMirror;
    return editor !== undefined && editor.documentAST?.loc?.source.body === editor.getValue();
  }, QUERY_EDITOR);
}

/** Runs the query editor's operation; returns the parsed response pane once it shows `expected`. */
async function run(page: Page, expected: string): Promise<unknown> {
  await untilQueryParsed(page);
  await page.click(".graphiql-execute-button");
  try {
    await page.waitForFunction(
      ({ selector, text }) => ((globalThis as unknown as PageGlobals).document.querySelector(selector)?.CodeMirror.getValue() ?? "").includes(text),
      { selector: RESPONSE, text: expected },
      { timeout: RESPONSE_WITHIN_MS },
    );
  } catch {
    throw new Error(`The response pane never showed ${expected}; it shows: ${await editorText(page, RESPONSE)}`);
  }
  return JSON.parse(await editorText(page, RESPONSE));
}

describeWithChromium("the explorer in a browser", (CHROMIUM) => {
  let api: TestApi;
  let userDataDir: string;
  let browser: BrowserContext;
  let page: Page;
  /** Every URL the page asked for, from its first request on. */
  const requested: string[] = [];
  /** Console errors and uncaught exceptions; a content security policy violation shows up here. */
  const errors: string[] = [];
  let user: Awaited<ReturnType<typeof register>>["user"];
  let token: string;

  beforeAll(async () => {
    api = await startApi(null, { EXPLORER: "on" });
    user = (await register(api.url, { email: uniqueEmail("explorer") })).user;
    userDataDir = mkdtempSync(join(tmpdir(), "explorer-chromium-"));
    browser = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM,
      args: CHROMIUM_ARGS,
      headless: true,
      viewport: { width: 1280, height: 800 },
    });
    browser.on("request", (request) => requested.push(request.url()));
    page = browser.pages()[0] ?? (await browser.newPage());
    page.on("websocket", (socket) => requested.push(socket.url()));
    page.on("console", (message) => {
      if (message.type() === "error") errors.push(message.text());
    });
    page.on("pageerror", (error) => errors.push(error.message));
    await page.goto(api.url);
    await page.waitForSelector(QUERY_EDITOR);
  });

  afterAll(async () => {
    await browser?.close();
    await api?.stop();
    if (userDataDir) rmSync(userDataDir, { recursive: true, force: true });
  });

  it("runs login and shows the tokens", async () => {
    await typeInto(page, QUERY_EDITOR, `mutation { login(input: { email: "${user.email}", password: "${PASSWORD}" }) { accessToken } }`);
    const response = (await run(page, "accessToken")) as { data: { login: { accessToken: string } } };
    token = response.data.login.accessToken;
    expect(token).toMatch(/^eyJ/);
  });

  it("sends the bearer token set in the headers editor, and me answers with the user", async () => {
    await page.getByRole("button", { name: "Headers", exact: true }).click();
    await typeInto(page, HEADERS_EDITOR, JSON.stringify({ Authorization: `Bearer ${token}` }, null, 2));
    await typeInto(page, QUERY_EDITOR, "query { me { email } }");
    expect(await run(page, user.email)).toEqual({ data: { me: { email: user.email } } });

    if (process.env.UPDATE_SCREENSHOT === "1") await page.screenshot({ path: SCREENSHOT });
  });

  it("lists both operations in its history, and keeps none of it in localStorage", async () => {
    await page.getByRole("button", { name: "Show History" }).click();
    const history = page.locator(".graphiql-history-items li");
    await history.nth(1).waitFor();
    expect(await history.count()).toBe(2);

    const stored = await page.evaluate(() => JSON.stringify((globalThis as unknown as PageGlobals).localStorage));
    expect(stored).not.toContain(token);
    expect(stored).not.toContain(PASSWORD);
  });

  it("shows the schema's documentation, read by introspection", async () => {
    await page.getByRole("button", { name: "Show Documentation Explorer" }).click();
    const docs = page.locator(".graphiql-doc-explorer");
    await docs.getByText("Query", { exact: true }).click();
    await docs.getByText("The logged-in user.").waitFor();
  });

  it("loaded everything from the API's own origin, with no errors and no policy violations", () => {
    const origin = new URL(api.url).origin;
    expect(requested).toContain(`${origin}/explorer/graphiql.js`);
    expect(requested.filter((url) => new URL(url).origin !== origin)).toEqual([]);
    expect(errors).toEqual([]);
  });
});
