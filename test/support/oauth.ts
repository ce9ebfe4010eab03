import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { openid } from "../../src/auth/federation/openid";
import { secretHash } from "../../src/auth/oauth/clients";
import type { OAuthClientRecord } from "../../src/store/store";
import type { ServerDeps } from "../../src/server";
import { startApi, type TestApi } from "./api";
import { newKey, asymmetricEnv } from "./keys";
import { browse, CookieJar } from "./oidc";
import { freePort } from "./ports";

export { CookieJar };

/** The API with its OAuth provider on, signing with ES256, its issuer its own origin on a free port. */
export async function startOAuthApi(redisUrl: string | null, env: Record<string, string> = {}, deps: Partial<ServerDeps> = {}): Promise<TestApi & { issuer: string }> {
  const port = await freePort();
  const issuer = `http://localhost:${port}`;
  const api = await startApi(redisUrl, { ...asymmetricEnv([newKey("ES256")]), PORT: String(port), OAUTH_PROVIDER: "on", OAUTH_ISSUER: issuer, ...env }, deps);
  return { ...api, issuer };
}

/** Registers a client straight in the store (the admin API does the same through OAuthClients). */
export async function registerClient(api: TestApi, client: Partial<OAuthClientRecord> & { clientId: string }, secret: string | null): Promise<void> {
  await api.store.createOAuthClient({
    name: client.name ?? `App ${client.clientId}`,
    redirectUris: client.redirectUris ?? [],
    grantTypes: client.grantTypes ?? ["authorization_code", "refresh_token"],
    scopes: client.scopes ?? ["openid", "email", "api"],
    public: secret === null,
    backchannelLogoutUri: client.backchannelLogoutUri ?? null,
    requireMfa: client.requireMfa ?? false,
    secretHash: secret === null ? null : secretHash(secret),
    createdAt: Date.now(),
    ...client,
  });
}

export interface BrowserSteps {
  /** Called on each interaction page before it is answered, with its HTML. */
  readonly onPage?: (html: string, url: string) => void;
  /** Allow on the consent page (default); false: stop there and return its URL. */
  readonly consent?: boolean;
  /** The second factor's code, asked on the "Code" page when the account has one. */
  readonly code?: () => string;
}

/**
 * A browser at this API's provider, played over HTTP with a cookie jar: follows redirects from
 * `authorizationUrl`, fills the sign-in form ("Email", "Password", "Sign in") and allows on the
 * consent page, and stops at the first redirect to `callbackPrefix` (not visited).
 */
export function authorizeInBrowser(jar: CookieJar, authorizationUrl: string, email: string, password: string, callbackPrefix: string, steps: BrowserSteps = {}): Promise<string> {
  return browse(jar, authorizationUrl, callbackPrefix, (html, url, status) => {
    steps.onPage?.(html, url);
    const [, action, inner] = /<form method="post" action="([^"]+)"[^>]*>([\s\S]*?)<\/form>/.exec(html) ?? [];
    if (!action) throw new Error(`${status} without a form at ${url}: ${html.slice(0, 400)}`);
    const csrf = /name="csrf" value="([^"]+)"/.exec(inner!)?.[1] ?? "";
    if (inner!.includes('name="password"')) return { action, form: new URLSearchParams({ csrf, email, password }) };
    if (inner!.includes('name="code"')) {
      if (!steps.code) throw new Error(`asked for a second factor at ${url}`);
      return { action, form: new URLSearchParams({ csrf, code: steps.code() }) };
    }
    return steps.consent === false ? "stop" : { action, form: new URLSearchParams({ csrf }) };
  });
}

type Configuration = import("openid-client", { with: { "resolution-mode": "import" } }).Configuration;
type TokenResponse = Awaited<ReturnType<typeof openid.authorizationCodeGrant>>;

export interface BrowserRelyingParty {
  readonly url: string;
  readonly server: Server;
  /** The tokens of the last completed sign-in, or null. */
  tokens(): TokenResponse | null;
  /** Discovers the provider at `issuer` as client `clientId` (client_secret_basic). */
  discover(issuer: string, clientId: string, secret: string): Promise<void>;
}

/**
 * A relying party with a real callback server, for a real browser: /login sends the browser to the
 * provider with code + PKCE (S256), /callback redeems the code with openid-client and shows whom it
 * signed in (`#who`).
 */
export async function startBrowserRelyingParty(): Promise<BrowserRelyingParty> {
  let config: Configuration | null = null;
  let verifier = "";
  let state = "";
  let tokens: TokenResponse | null = null;
  const server = createServer(async (request, response) => {
    const url = new URL(request.url!, `http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    try {
      if (url.pathname === "/login") {
        verifier = openid.randomPKCECodeVerifier();
        state = openid.randomState();
        const target = openid.buildAuthorizationUrl(config!, { redirect_uri: `${url.origin}/callback`, scope: "openid email api", code_challenge: await openid.calculatePKCECodeChallenge(verifier), code_challenge_method: "S256", state });
        return response.writeHead(302, { location: target.href }).end();
      }
      if (url.pathname === "/callback") {
        tokens = await openid.authorizationCodeGrant(config!, url, { pkceCodeVerifier: verifier, expectedState: state });
        return response.writeHead(200, { "content-type": "text/html" }).end(`<!doctype html><title>RP</title><p id="who">Signed in as ${String(tokens.claims()?.email)}</p>`);
      }
      response.writeHead(404).end();
    } catch (error) {
      response.writeHead(500, { "content-type": "text/plain" }).end(String(error));
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    server,
    tokens: () => tokens,
    async discover(issuer, clientId, secret) {
      config = await openid.discovery(new URL(issuer), clientId, undefined, openid.ClientSecretBasic(secret), { execute: [openid.allowInsecureRequests] });
    },
  };
}
