import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { build } from "esbuild";
import { chromium, type BrowserContext, type CDPSession, type Page } from "playwright-core";
import { startApi, type TestApi } from "../support/api";
import { PASSWORD, post, register } from "../support/client";
import { CHROMIUM_ARGS, describeWithChromium } from "../support/chromium";
import { freePort } from "../support/redis";

describeWithChromium("the client package's DPoP key and passkeys in Chromium", (CHROMIUM) => {
  // Pages on the API's own origin (its /healthz), each with @revocable-auth/client built from source
  // by esbuild and created as `auth` (cookie mode, DPoP by default): the key is made by WebCrypto and
  // kept in IndexedDB, passkeys go through the virtual authenticator of the DevTools protocol.
  jest.setTimeout(60_000);

  let api: TestApi;
  let origin: string;
  let userDataDir: string;
  let browser: BrowserContext;
  /** Every GraphQL POST the pages sent: its operation, and its Authorization scheme and DPoP proof. */
  const sent: { operation: string; scheme: string | null; proof: string | null }[] = [];

  const on = <T>(page: Page, expression: string) => page.evaluate(expression) as Promise<T>;

  beforeAll(async () => {
    const bundle = await build({
      stdin: {
        contents: 'import { createAuthClient } from "@revocable-auth/client"; globalThis.auth = createAuthClient({ url: "/graphql", device: "Chromium" });',
        resolveDir: __dirname,
      },
      bundle: true,
      write: false,
      format: "iife",
      platform: "browser",
      alias: { "@revocable-auth/client": resolve(__dirname, "../../packages/client/src/index.ts") },
      logLevel: "silent",
    });
    // A fixed port: WEBAUTHN_ORIGINS defaults to http://localhost:<PORT>, the pages' origin.
    api = await startApi(null, { PORT: String(await freePort()), LOGIN_MAX_FAILURES: "1000" });
    origin = new URL(api.url).origin;
    userDataDir = mkdtempSync(join(tmpdir(), "client-dpop-chromium-"));
    browser = await chromium.launchPersistentContext(userDataDir, { executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
    // Every page of the context, on every load (a reload too), gets the client.
    await browser.addInitScript({ content: bundle.outputFiles[0]!.text });
    browser.on("request", (request) => {
      if (request.method() !== "POST" || !request.url().endsWith("/graphql")) return;
      const query = (JSON.parse(request.postData() ?? "{}") as { query?: string }).query ?? "";
      const headers = request.headers();
      sent.push({ operation: /\{\s*(\w+)/.exec(query)?.[1] ?? "?", scheme: headers.authorization?.split(" ")[0] ?? null, proof: headers.dpop ?? null });
    });
  });

  afterAll(async () => {
    await browser?.close();
    await api?.stop();
    if (userDataDir) rmSync(userDataDir, { recursive: true, force: true });
  });

  async function openTab(): Promise<Page> {
    const page = await browser.newPage();
    await page.goto(`${origin}/healthz`);
    return page;
  }

  it("signs in bound to a non-extractable key in IndexedDB, refreshes across a reload and in a second tab with it, and a copied token is refused in Node", async () => {
    const { email } = (await register(api.url)).user;
    const tabA = await openTab();
    sent.length = 0;
    await on(tabA, `auth.signIn({ email: ${JSON.stringify(email)}, password: ${JSON.stringify(PASSWORD)} })`);
    expect(await on(tabA, "auth.state.session.tokenType")).toBe("DPoP");
    const key = await on<{ extractable: boolean; algorithm: { name: string; namedCurve: string } }>(
      tabA,
      `new Promise((resolve, reject) => {
        const open = indexedDB.open("revocable-auth:dpop");
        open.onerror = () => reject(open.error);
        open.onsuccess = () => {
          try {
            const get = open.result.transaction("keys").objectStore("keys").get("ES256");
            get.onsuccess = () => resolve(get.result ? { extractable: get.result.privateKey.extractable, algorithm: get.result.privateKey.algorithm } : null);
            get.onerror = () => reject(get.error);
          } catch (error) {
            reject(error); // no key store: the client never put a key there
          }
        };
      })`,
    );
    expect(key).toEqual({ extractable: false, algorithm: { name: "ECDSA", namedCurve: "P-256" } });

    // Copied out of the page, the token is worthless without the key.
    const copied = (await on<string>(tabA, "auth.getAccessToken()"))!;
    const asBearer = await post(api.url, { query: "{ me { email } }" }, { token: copied });
    expect([asBearer.status, asBearer.error?.reason]).toEqual([401, "DPOP_PROOF_REQUIRED"]);
    const noProof = await post(api.url, { query: "{ me { email } }" }, { headers: { authorization: `DPoP ${copied}` } });
    expect(noProof.status).toBe(401);
    expect(noProof.error?.reason).toMatch(/^(DPOP_PROOF_REQUIRED|INVALID_DPOP_PROOF)$/);

    // A reload: the access token is gone from memory; the cookie and the key from IndexedDB bring the session back.
    await tabA.reload();
    expect(await on(tabA, "auth.state.status")).toBe("unknown");
    const reloaded = await on<string>(tabA, "auth.getAccessToken()");
    expect(reloaded).not.toBe(copied);
    expect(await on(tabA, "auth.request('{ me { email } }')")).toEqual({ me: { email } });

    // A second tab signs with the same key.
    const tabB = await openTab();
    expect(await on(tabB, "auth.getAccessToken()")).toBeTruthy();
    expect(await on(tabB, "auth.request('{ me { email } }')")).toEqual({ me: { email } });

    const requests = sent.filter((request) => ["login", "refresh", "me"].includes(request.operation));
    expect(requests.map(({ operation, scheme }) => `${operation} ${scheme ?? "none"}`)).toEqual(
      expect.arrayContaining(["login none", "refresh none", "me DPoP"]),
    );
    // Every one carried a proof, and no proof was sent twice.
    expect(requests.every((request) => request.proof)).toBe(true);
    expect(new Set(requests.map((request) => request.proof)).size).toBe(requests.length);
    const keys = new Set(requests.map((request) => JSON.stringify((JSON.parse(Buffer.from(request.proof!.split(".")[0]!, "base64url").toString()) as { jwk: unknown }).jwk)));
    expect(keys.size).toBe(1);
    await tabB.close();
    await on(tabA, "auth.signOut()");
    await tabA.close();
  });

  it("an explicit signOut replaces the key before the other tabs hear of it: the next account is bound to another key, in every tab", async () => {
    const first = (await register(api.url)).user.email;
    const second = (await register(api.url)).user.email;
    const tabA = await openTab();
    const tabB = await openTab();
    const jktOf = (token: string) => (JSON.parse(Buffer.from(token.split(".")[1]!, "base64url").toString()) as { cnf: { jkt: string } }).cnf.jkt;
    const signIn = (page: Page, email: string) => on(page, `auth.signIn({ email: ${JSON.stringify(email)}, password: ${JSON.stringify(PASSWORD)} })`);

    await signIn(tabA, first);
    const before = jktOf((await on<string>(tabA, "auth.getAccessToken()"))!);
    const fromNode = await post<{ login: { accessToken: string } }>(api.url, { query: "mutation ($input: LoginInput!) { login(input: $input) { accessToken } }", variables: { input: { email: first, password: PASSWORD } } });
    const devices = async () =>
      (await post<{ sessions: { device: string | null }[] }>(api.url, { query: "{ sessions { device } }" }, { token: fromNode.data!.login.accessToken })).data!.sessions.map((session) => session.device);
    expect(await devices()).toContain("Chromium");
    // The second tab signs with the key too (and so holds it loaded) before the sign-out.
    for (let i = 0; i < 50 && (await on(tabB, "auth.state.status")) !== "signedIn"; i++) await new Promise((r) => setTimeout(r, 20));
    expect(await on(tabB, "auth.request('{ me { email } }')")).toEqual({ me: { email: first } });

    await on(tabB, "void (globalThis.heard = new Promise((resolve) => auth.onAuthStateChange((event) => event === 'SIGNED_OUT' && resolve(event))))");
    await on(tabA, "auth.signOut()");
    expect(await on(tabB, "globalThis.heard")).toBe("SIGNED_OUT");
    // The logout, signed with the retired key, ended the session at the API.
    expect(await devices()).not.toContain("Chromium");

    // The other tab signs in the next account: a new key, which the first tab then signs with too.
    await signIn(tabB, second);
    const after = jktOf((await on<string>(tabB, "auth.getAccessToken()"))!);
    expect(after).not.toBe(before);
    expect(await on(tabB, "auth.request('{ me { email } }')")).toEqual({ me: { email: second } });
    for (let i = 0; i < 50 && (await on(tabA, "auth.state.status")) !== "signedIn"; i++) await new Promise((r) => setTimeout(r, 20));
    expect(await on(tabA, "auth.request('{ me { email } }')")).toEqual({ me: { email: second } });
    await on(tabB, "auth.signOut()");
    await tabA.close();
    await tabB.close();
  });

  describe("passkeys with the virtual authenticator", () => {
    let page: Page;
    let cdp: CDPSession;
    let authenticatorId: string;

    beforeAll(async () => {
      page = await openTab();
      cdp = await browser.newCDPSession(page);
      await cdp.send("WebAuthn.enable", { enableUI: false });
      ({ authenticatorId } = await cdp.send("WebAuthn.addVirtualAuthenticator", {
        options: { protocol: "ctap2", transport: "internal", hasResidentKey: true, hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true },
      } as never));
    });
    afterAll(async () => {
      await cdp?.send("WebAuthn.removeVirtualAuthenticator", { authenticatorId });
    });

    it("addPasskey adds one to the signed-in user; signInWithPasskey signs in with it, bound to the key", async () => {
      const { email } = (await register(api.url)).user;
      await on(page, `auth.signIn({ email: ${JSON.stringify(email)}, password: ${JSON.stringify(PASSWORD)} })`);
      const passkey = await on<{ id: string; name: string }>(page, "auth.addPasskey('laptop')");
      expect(passkey).toMatchObject({ id: expect.any(String), name: "laptop" });
      await on(page, "auth.signOut()");

      // A fresh page: a signed-out client is final, so the sign-in starts from a new one.
      await page.reload();
      const events = on<string[]>(page, "new Promise((resolve) => { const seen = []; auth.onAuthStateChange((event) => { seen.push(event); resolve(seen); }); })");
      const user = await on<{ email: string }>(page, "auth.signInWithPasskey()");
      expect(user.email).toBe(email);
      expect(await events).toEqual(["SIGNED_IN"]);
      expect(await on(page, "auth.state.session.tokenType")).toBe("DPoP");
      expect(await on(page, "auth.request('{ me { email } }')")).toEqual({ me: { email } });
    });
  });
});
