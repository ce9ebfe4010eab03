import { generateKeyPairSync, randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import pino from "pino";
import { chromium, type BrowserContext, type CDPSession, type Page } from "playwright-core";
import { loadConfig } from "../../src/config";
import { startServer, type RunningServer } from "../../src/server";
import { testEnv } from "../support/api";
import { post, register } from "../support/client";
import { freePort, startRedis, type TestRedis } from "../support/redis";
import { CHROMIUM_ARGS, describeWithChromium } from "../support/chromium";

describeWithChromium("passkeys in Chromium with the virtual authenticator", (CHROMIUM) => {

  // Starting Chromium takes seconds, not the milliseconds of HTTP tests.
  jest.setTimeout(60_000);

  /** Debian's Chromium, with the explorer test's flags: the tests never download a browser. */

  /** An authenticator such as a laptop's platform one: resident keys, user verification (a fingerprint) that passes. */
  const PLATFORM_AUTHENTICATOR = {
    protocol: "ctap2",
    transport: "internal",
    hasResidentKey: true,
    hasUserVerification: true,
    isUserVerified: true,
    automaticPresenceSimulation: true,
  };

  /** A credential as the DevTools WebAuthn domain reads and writes it (binary fields in base64). */
  interface VirtualCredential {
    credentialId: string;
    isResidentCredential: boolean;
    rpId: string;
    privateKey: string;
    userHandle?: string;
    signCount: number;
  }

  interface GraphQLBody {
    data?: Record<string, unknown> | null;
    errors?: { message: string; extensions?: { code?: string; reason?: string } & Record<string, unknown> }[];
  }

  let redis: TestRedis;
  /** The API the page is served from: WEBAUTHN_ORIGINS is its own origin, by default. */
  let api: RunningServer;
  let origin: string;
  /** Another API on the same store whose WEBAUTHN_ORIGINS names some other origin. */
  let elsewhere: RunningServer;
  let elsewhereOrigin: string;
  let userDataDir: string;
  let browser: BrowserContext;
  let page: Page;
  let cdp: CDPSession;
  let authenticatorId: string;
  const lines: Record<string, unknown>[] = [];

  async function startOn(env: Record<string, string>, logger = pino({ level: "silent" })): Promise<[RunningServer, string]> {
    const port = await freePort();
    const server = await startServer(loadConfig(testEnv(redis.url, { PORT: String(port), ...env })), { logger });
    return [server, `http://localhost:${port}`];
  }

  beforeAll(async () => {
    redis = await startRedis();
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        for (const line of chunk.toString().split("\n")) if (line.startsWith("{")) lines.push(JSON.parse(line));
        done();
      },
    });
    const logger = pino({ level: "warn" }, sink);
    [api, origin] = await startOn({ LOGIN_MAX_FAILURES: "1000" }, logger);
    [elsewhere, elsewhereOrigin] = await startOn({ WEBAUTHN_ORIGINS: "http://localhost:1" }, logger);
    userDataDir = mkdtempSync(join(tmpdir(), "passkeys-chromium-"));
    browser = await chromium.launchPersistentContext(userDataDir, { executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
    page = browser.pages()[0] ?? (await browser.newPage());
    cdp = await browser.newCDPSession(page);
    await cdp.send("WebAuthn.enable", { enableUI: false });
  });

  afterAll(async () => {
    await browser?.close();
    await api?.stop();
    await elsewhere?.stop();
    await redis?.destroy();
    if (userDataDir) rmSync(userDataDir, { recursive: true, force: true });
  });

  // Each test holds its own authenticator, so a discoverable sign-in has exactly one passkey to offer.
  beforeEach(async () => {
    ({ authenticatorId } = await cdp.send("WebAuthn.addVirtualAuthenticator", { options: PLATFORM_AUTHENTICATOR } as never));
    await page.goto(`${origin}/healthz`);
  });
  afterEach(async () => {
    await cdp.send("WebAuthn.removeVirtualAuthenticator", { authenticatorId });
  });

  /**
   * The browser side of registration, as docs/passkeys.md shows it, run in the page (so the origin is
   * the API's): options from the API, navigator.credentials.create, the credential's JSON back.
   * Functions, not strings, go to the page; tsconfig has no DOM library, hence `globalThis as any`.
   */
  function registerInPage(target: Page, token: string, submitAs = token) {
    return target.evaluate(async ({ bearer, submitter }) => {
      const g = globalThis as any;
      const call = async (query: string, variables: object, as: string) =>
        (await g.fetch("/graphql", {
          method: "POST",
          headers: { "content-type": "application/json", authorization: `Bearer ${as}` },
          body: JSON.stringify({ query, variables }),
        })).json();
      const options = (await call("mutation { passkeyRegistrationOptions }", {}, bearer)).data.passkeyRegistrationOptions;
      const credential = await g.navigator.credentials.create({ publicKey: g.PublicKeyCredential.parseCreationOptionsFromJSON(options) });
      const response = credential.toJSON();
      const mutation = "mutation ($response: JSON!) { registerPasskey(response: $response, name: \"laptop\") { id name createdAt lastUsedAt } }";
      const result = await call(mutation, { response }, submitter);
      return { options, response, result } as { options: any; response: any; result: GraphQLBody };
    }, { bearer: token, submitter: submitAs });
  }

  /**
   * The browser side of a discoverable sign-in: no email, the authenticator offers its passkey.
   * `userVerification` overrides what the API asked for, as a tampered page could.
   */
  function signInInPage(target: Page, userVerification?: string) {
    return target.evaluate(async (override) => {
      const g = globalThis as any;
      const call = async (query: string, variables: object = {}) =>
        (await g.fetch("/graphql", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ query, variables }) })).json();
      const options = (await call("mutation { passkeyLoginOptions }")).data.passkeyLoginOptions;
      if (override) options.userVerification = override;
      const credential = await g.navigator.credentials.get({ publicKey: g.PublicKeyCredential.parseRequestOptionsFromJSON(options) });
      const response = credential.toJSON();
      const result = await call(
        "mutation ($response: JSON!) { loginWithPasskey(response: $response, device: \"browser\") { accessToken refreshToken sessionId user { id } } }",
        { response },
      );
      return { options, response, result } as { options: any; response: any; result: GraphQLBody };
    }, userVerification ?? null);
  }

  const claimsOf = (token: string) => JSON.parse(Buffer.from(token.split(".")[1]!, "base64url").toString());
  const reasonOf = (body: GraphQLBody) => body.errors?.[0]?.extensions?.reason;
  const loginPayload = (body: GraphQLBody) => body.data?.loginWithPasskey as { accessToken: string; sessionId: string; user: { id: string } };
  const gql = (query: string, variables: object, token?: string) => post(`${origin}/graphql`, { query, variables }, token === undefined ? {} : { token });
  const REGISTER = "mutation ($response: JSON!) { registerPasskey(response: $response) { id } }";
  const LOGIN = "mutation ($response: JSON!) { loginWithPasskey(response: $response) { accessToken } }";
  const ME = "query { me { id } }";

  /** A user signed in with a password, holding one new passkey on this test's authenticator. */
  async function userWithPasskey() {
    const account = await register(`${origin}/graphql`);
    const registration = await registerInPage(page, account.accessToken);
    expect(registration.result.errors).toBeUndefined();
    return { account, registration, passkeyId: registration.response.id as string };
  }

  describe("passkeys in a real browser, with the DevTools virtual authenticator", () => {
    it("registers a passkey while signed in, then signs in with it discoverably at aal2 with amr [hwk, user]", async () => {
      const { account, registration, passkeyId } = await userWithPasskey();
      expect(registration.options).toMatchObject({
        rp: { id: "localhost" },
        user: { name: account.user.email },
        attestation: "none",
        timeout: 300_000,
        authenticatorSelection: { residentKey: "required", requireResidentKey: true, userVerification: "required" },
        excludeCredentials: [],
      });
      expect(registration.result.data?.registerPasskey).toMatchObject({ id: passkeyId, name: "laptop", lastUsedAt: null });

      const signIn = await signInInPage(page);
      expect(signIn.options.allowCredentials ?? []).toEqual([]);
      expect(signIn.options.userVerification).toBe("required");
      const payload = loginPayload(signIn.result);
      expect(payload.user.id).toBe(account.user.id);
      expect(claimsOf(payload.accessToken)).toMatchObject({ sub: account.user.id, sid: payload.sessionId, aal: "aal2", amr: ["hwk", "user"] });
      expect((await gql(ME, {}, payload.accessToken)).data).toEqual({ me: { id: account.user.id } });
      // The session keeps its level: a refresh hands out aal2 again.
      const refreshed = await gql("mutation ($t: String) { refresh(refreshToken: $t) { accessToken } }", { t: (payload as any).refreshToken });
      expect(claimsOf((refreshed.data as any).refresh.accessToken)).toMatchObject({ sid: payload.sessionId, aal: "aal2", amr: ["hwk", "user"] });
      // Options for this email name its passkey.
      const forEmail = await gql("mutation ($email: String) { passkeyLoginOptions(email: $email) }", { email: account.user.email.toUpperCase() });
      expect((forEmail.data as any).passkeyLoginOptions.allowCredentials).toEqual([expect.objectContaining({ id: passkeyId, type: "public-key" })]);

      const listed = await gql("query { passkeys { id name lastUsedAt } }", {}, account.accessToken);
      expect(listed.data).toEqual({ passkeys: [{ id: passkeyId, name: "laptop", lastUsedAt: expect.any(String) }] });
      const renamed = await gql("mutation ($id: ID!) { renamePasskey(id: $id, name: \"work laptop\") { name } }", { id: passkeyId }, account.accessToken);
      expect(renamed.data).toEqual({ renamePasskey: { name: "work laptop" } });
      const again = await gql("mutation { passkeyRegistrationOptions }", {}, account.accessToken);
      expect((again.data as any).passkeyRegistrationOptions.excludeCredentials).toEqual([expect.objectContaining({ id: passkeyId })]);
    });

    it("refuses a replayed registration and a replayed assertion: each challenge is used once", async () => {
      const { account, registration } = await userWithPasskey();
      const replayedRegistration = await gql(REGISTER, { response: registration.response }, account.accessToken);
      expect(replayedRegistration.error).toMatchObject({ code: "BAD_USER_INPUT", reason: "PASSKEY_NOT_VERIFIED" });

      const signIn = await signInInPage(page);
      expect(loginPayload(signIn.result).accessToken).toBeDefined();
      const replayed = await gql(LOGIN, { response: signIn.response });
      expect(replayed.error).toMatchObject({ code: "UNAUTHENTICATED", reason: "INVALID_CREDENTIALS", message: "The passkey was not accepted" });
      expect(lines).toContainEqual(expect.objectContaining({ audit: "passkey_login_failed", cause: "challenge" }));
    });

    it("binds a registration's challenge to the user it was issued to", async () => {
      const account = await register(`${origin}/graphql`);
      const other = await register(`${origin}/graphql`);
      // Options asked for by one user, the response presented by another: the challenge is not theirs.
      const crossed = await registerInPage(page, account.accessToken, other.accessToken);
      expect(reasonOf(crossed.result)).toBe("PASSKEY_NOT_VERIFIED");
      // And it is spent: its rightful user cannot use it afterwards either.
      expect((await gql(REGISTER, { response: crossed.response }, account.accessToken)).error?.reason).toBe("PASSKEY_NOT_VERIFIED");
    });

    it("refuses an assertion made without user verification", async () => {
      await userWithPasskey();
      await cdp.send("WebAuthn.setUserVerified", { authenticatorId, isUserVerified: false });
      const signIn = await signInInPage(page, "discouraged");
      expect(signIn.result.data).toBeNull();
      expect(reasonOf(signIn.result)).toBe("INVALID_CREDENTIALS");
      expect(lines).toContainEqual(expect.objectContaining({ audit: "passkey_login_failed", cause: "user_not_verified" }));
    });

    it("ends the sessions a removed passkey started, and refuses it from then on", async () => {
      const { account, passkeyId } = await userWithPasskey();
      const first = loginPayload((await signInInPage(page)).result);
      const second = loginPayload((await signInInPage(page)).result);
      const removed = await gql("mutation ($id: ID!) { removePasskey(id: $id) }", { id: passkeyId }, account.accessToken);
      expect(removed.data).toEqual({ removePasskey: true });
      for (const token of [first.accessToken, second.accessToken]) {
        expect((await gql(ME, {}, token)).error).toMatchObject({ code: "UNAUTHENTICATED", reason: "TOKEN_REVOKED" });
      }
      // The password session that removed it goes on.
      expect((await gql(ME, {}, account.accessToken)).data).toEqual({ me: { id: account.user.id } });
      const after = await signInInPage(page);
      expect(reasonOf(after.result)).toBe("INVALID_CREDENTIALS");
      expect(lines).toContainEqual(expect.objectContaining({ audit: "passkey_removed", userId: account.user.id, passkeyId, ended: 2 }));
      const gone = await gql("mutation ($id: ID!) { removePasskey(id: $id) }", { id: passkeyId }, account.accessToken);
      expect(gone.error).toMatchObject({ code: "NOT_FOUND", reason: "PASSKEY_NOT_FOUND" });
    });

    it("refuses a ceremony from an origin that WEBAUTHN_ORIGINS does not name", async () => {
      // A passkey registered on the API's own origin...
      const { account: holder } = await userWithPasskey();
      // ...presented through a page whose origin the other instance does not accept, on the same store.
      await page.goto(`${elsewhereOrigin}/healthz`);
      const signIn = await signInInPage(page);
      expect(reasonOf(signIn.result)).toBe("INVALID_CREDENTIALS");
      expect(lines).toContainEqual(expect.objectContaining({ audit: "passkey_login_failed", cause: "not_verified", userId: holder.user.id }));
      const account = await register(`${elsewhereOrigin}/graphql`);
      const registration = await registerInPage(page, account.accessToken);
      expect(reasonOf(registration.result)).toBe("PASSKEY_NOT_VERIFIED");
    });

    it("says why a registration from another origin was refused: in the log and audit trail, and outside production in the error", async () => {
      await page.goto(`${elsewhereOrigin}/healthz`);
      const account = await register(`${elsewhereOrigin}/graphql`);
      const registration = await registerInPage(page, account.accessToken);
      expect(registration.result.errors?.[0]?.extensions).toEqual({
        code: "BAD_USER_INPUT",
        reason: "PASSKEY_NOT_VERIFIED",
        cause: "origin",
        acceptedOrigins: ["http://localhost:1"],
        rpId: "localhost",
      });
      const line = lines.find((entry) => entry.audit === "passkey_registration_failed" && entry.userId === account.user.id);
      expect(line).toMatchObject({ cause: "origin", origin: elsewhereOrigin, sessionId: account.sessionId, msg: "passkey registration refused: origin" });
      // Never the challenge nor the credential itself.
      const logged = JSON.stringify(lines);
      expect(logged).not.toContain(registration.options.challenge);
      expect(logged).not.toContain(registration.response.response.clientDataJSON);
      expect(logged).not.toContain(registration.response.response.attestationObject);
      const history = await post(`${elsewhereOrigin}/graphql`, { query: "{ securityEvents(first: 5) { nodes { type sessionId } } }" }, { token: account.accessToken });
      expect((history.data as any).securityEvents.nodes).toContainEqual({ type: "PASSKEY_REGISTRATION_FAILED", sessionId: account.sessionId });
    });

    it("names no accepted origin in a refused registration's error in production", async () => {
      const [production, productionOrigin] = await startOn({
        NODE_ENV: "production",
        HOST: "localhost",
        MFA_ENCRYPTION_KEY: Buffer.alloc(32, 3).toString("base64"),
        MAIL_URL: "off",
        PASSKEYS: "on",
        WEBAUTHN_RP_ID: "localhost",
        WEBAUTHN_ORIGINS: "https://localhost:1",
      });
      try {
        await page.goto(`${productionOrigin}/healthz`);
        const account = await register(`${productionOrigin}/graphql`);
        const registration = await registerInPage(page, account.accessToken);
        expect(registration.result.errors?.[0]?.extensions).toEqual({ code: "BAD_USER_INPUT", reason: "PASSKEY_NOT_VERIFIED" });
        expect(JSON.stringify(registration.result)).not.toContain("https://localhost:1");
      } finally {
        await production.stop();
      }
    });

    it("refuses a signature counter that goes backwards, and audits a possible clone", async () => {
      const { account, passkeyId } = await userWithPasskey();
      const { credentials } = (await cdp.send("WebAuthn.getCredentials", { authenticatorId })) as { credentials: VirtualCredential[] };
      expect(credentials).toHaveLength(1);
      // The same private key, put back with a counter of our choosing: a copy of the authenticator.
      const withCounter = async (signCount: number) => {
        await cdp.send("WebAuthn.clearCredentials", { authenticatorId });
        await cdp.send("WebAuthn.addCredential", { authenticatorId, credential: { ...credentials[0]!, signCount } } as never);
      };
      await withCounter(10);
      const counted = await signInInPage(page);
      expect(loginPayload(counted.result).user.id).toBe(account.user.id);
      await withCounter(3);
      const cloned = await signInInPage(page);
      expect(reasonOf(cloned.result)).toBe("INVALID_CREDENTIALS");
      expect(lines).toContainEqual(
        expect.objectContaining({ audit: "passkey_counter_regressed", userId: account.user.id, passkeyId, stored: 11, presented: 4 }),
      );
      await withCounter(20);
      expect(loginPayload((await signInInPage(page)).result).user.id).toBe(account.user.id);
    });

    it("refuses a passkey the API never registered, made from a key generated here", async () => {
      const { privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
      const credential: VirtualCredential = {
        credentialId: randomBytes(16).toString("base64"),
        isResidentCredential: true,
        rpId: "localhost",
        privateKey: privateKey.export({ type: "pkcs8", format: "der" }).toString("base64"),
        userHandle: Buffer.from("someone").toString("base64"),
        signCount: 0,
      };
      await cdp.send("WebAuthn.addCredential", { authenticatorId, credential } as never);
      const signIn = await signInInPage(page);
      expect(signIn.response.id).toBe(Buffer.from(credential.credentialId, "base64").toString("base64url"));
      expect(reasonOf(signIn.result)).toBe("INVALID_CREDENTIALS");
      expect(lines).toContainEqual(expect.objectContaining({ audit: "passkey_login_failed", cause: "unknown_credential" }));
    });
  });
});
