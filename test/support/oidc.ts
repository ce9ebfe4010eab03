import { spawn, type ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";
import { resolve } from "node:path";
import type { Clock } from "../../src/clock";
import { startApi, type TestApi } from "./api";
import { freePort } from "./ports";

/** An account of the test provider: its login (the `sub`) and what it says about the address. */
export interface ProviderAccount {
  readonly email: string;
  readonly email_verified: boolean;
}

export interface ProviderClient {
  readonly client_id: string;
  readonly client_secret: string;
  readonly redirect_uris: readonly string[];
  readonly backchannel_logout_uri?: string;
  readonly backchannel_logout_session_required?: boolean;
}

export interface TestProvider {
  readonly issuer: string;
  /** The next token response carries an ID token with these claims changed (or this alg), signed with the provider's key. */
  tamper(change: { claims?: Record<string, unknown>; alg?: string }): Promise<void>;
  /** A logout token signed with the provider's key. */
  logoutToken(claims: Record<string, unknown>, header?: Record<string, unknown>): Promise<string>;
  stop(): Promise<void>;
}

/** panva's oidc-provider in a process of its own (test/support/oidc-provider.mjs), on a loopback port. */
export async function startProvider(options: {
  clients: readonly ProviderClient[];
  accounts: Record<string, ProviderAccount>;
  backchannelLogout?: boolean;
  /** The issuer's port (one a test named before anything listened on it); a free one when absent. */
  port?: number;
  /** The issuer's path, as `/tenant/v2.0/`: the provider is served below it. */
  path?: string;
}): Promise<TestProvider> {
  const child: ChildProcess = spawn(process.execPath, [resolve(__dirname, "oidc-provider.mjs"), JSON.stringify(options)], { stdio: ["ignore", "pipe", "inherit"] });
  const line = await new Promise<string>((done, fail) => {
    child.once("exit", (code) => fail(new Error(`the test provider exited with ${code}`)));
    createInterface({ input: child.stdout! }).once("line", done);
  });
  const { issuer } = JSON.parse(line) as { issuer: string };
  const control = (path: string, body: unknown) => fetch(`${new URL(issuer).origin}${path}`, { method: "POST", body: JSON.stringify(body) });
  return {
    issuer,
    async tamper(change) {
      await control("/__test/tamper", change);
    },
    async logoutToken(claims, header = {}) {
      return ((await (await control("/__test/logout-token", { claims, header })).json()) as { token: string }).token;
    },
    stop: () =>
      new Promise<void>((done) => {
        if (child.exitCode !== null) return done();
        child.once("exit", () => done());
        child.kill("SIGTERM");
      }),
  };
}

/** Cookies by origin, as a browser keeps them (enough for these flows: no paths, no expiry). */
export class CookieJar {
  private readonly cookies = new Map<string, Map<string, string>>();

  header(url: string): string {
    return [...(this.cookies.get(new URL(url).origin) ?? new Map<string, string>())].map(([name, value]) => `${name}=${value}`).join("; ");
  }

  store(url: string, headers: Headers): void {
    const jar = this.cookies.get(new URL(url).origin) ?? new Map<string, string>();
    for (const line of headers.getSetCookie()) {
      const [pair] = line.split(";");
      const at = pair!.indexOf("=");
      const [name, value] = [pair!.slice(0, at).trim(), pair!.slice(at + 1).trim()];
      if (value === "" || /max-age=0\b|expires=thu, 01 jan 1970/i.test(line)) jar.delete(name);
      else jar.set(name, value);
    }
    this.cookies.set(new URL(url).origin, jar);
  }

  get(url: string, name: string): string | undefined {
    return this.cookies.get(new URL(url).origin)?.get(name);
  }

  set(url: string, name: string, value: string): void {
    const jar = this.cookies.get(new URL(url).origin) ?? new Map<string, string>();
    jar.set(name, value);
    this.cookies.set(new URL(url).origin, jar);
  }
}

/** One request without following redirects, with the jar's cookies; the jar keeps what it sets. */
export async function visit(jar: CookieJar, url: string, init: RequestInit = {}): Promise<Response> {
  const response = await fetch(url, { ...init, redirect: "manual", headers: { ...(init.headers as Record<string, string>), cookie: jar.header(url) } });
  jar.store(url, response.headers);
  return response;
}

/** What a played browser does on a page: post this form to this action, or stop there. */
export type PageAnswer = { readonly action: string; readonly form: URLSearchParams } | "stop";

/**
 * A browser played over HTTP: follows redirects from `start` with the jar's cookies, answers each
 * page with `answer` (a form to post, or stop), and stops at the first URL starting with `stopAt`
 * (not visited) or where `answer` says. Returns that URL.
 */
export async function browse(jar: CookieJar, start: string, stopAt: string, answer: (html: string, url: string, status: number) => PageAnswer): Promise<string> {
  let url = start;
  for (let step = 0; step < 12; step++) {
    if (url.startsWith(stopAt)) return url;
    const response = await visit(jar, url);
    const location = response.headers.get("location");
    if (location) {
      url = new URL(location, url).href;
      continue;
    }
    const page = answer(await response.text(), url, response.status);
    if (page === "stop") return url;
    const posted = await visit(jar, new URL(page.action.replace(/&amp;/g, "&"), url).href, { method: "POST", body: page.form, headers: { "content-type": "application/x-www-form-urlencoded" } });
    const next = posted.headers.get("location");
    if (!next) throw new Error(`posting ${page.action} answered ${posted.status}: ${(await posted.text()).slice(0, 400)}`);
    url = new URL(next, url).href;
  }
  throw new Error(`too many steps before ${stopAt}`);
}

/**
 * A browser at the provider: follows its redirects from `authorizationUrl`, signs in as `login` on
 * oidc-provider's development form, and stops at the first redirect back to `callbackPrefix`: the
 * callback URL, not yet visited.
 */
export async function signInAtProvider(jar: CookieJar, authorizationUrl: string, login: string, callbackPrefix: string): Promise<string> {
  const back = await untilBack(jar, authorizationUrl, login, callbackPrefix);
  if (typeof back !== "string") throw new Error("the provider answered with a form POST (response_mode=form_post), not a redirect");
  return back;
}

/**
 * As signInAtProvider, for a provider asked for response_mode=form_post: it answers with a page
 * whose form posts the response to the callback; this returns that form's fields, not yet posted.
 */
export async function formPostAtProvider(jar: CookieJar, authorizationUrl: string, login: string, callbackPrefix: string): Promise<URLSearchParams> {
  const back = await untilBack(jar, authorizationUrl, login, callbackPrefix);
  if (typeof back === "string") throw new Error(`the provider redirected to ${back} instead of posting a form`);
  return back;
}

async function untilBack(jar: CookieJar, authorizationUrl: string, login: string, callbackPrefix: string): Promise<string | URLSearchParams> {
  let formPost: URLSearchParams | null = null;
  const url = await browse(jar, authorizationUrl, callbackPrefix, (html, at, status) => {
    const action = /<form[^>]*action="([^"]+)"/.exec(html)?.[1];
    if (action?.startsWith(callbackPrefix)) {
      formPost = new URLSearchParams([...html.matchAll(/<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"/g)].map(([, name, value]): [string, string] => [name!, value!.replace(/&amp;/g, "&")]));
      return "stop";
    }
    if (!action) throw new Error(`the provider answered ${status} without a form at ${at}: ${html.slice(0, 300)}`);
    return { action, form: new URLSearchParams({ prompt: "login", login, password: "any" }) };
  });
  return formPost ?? url;
}

/**
 * The API with one provider, `corp`, registered with the API's callback: a free port is chosen
 * first, since the provider must know the callback before the API starts.
 */
export async function startApiWithProvider(options: {
  redisUrl?: string | null;
  accounts: Record<string, ProviderAccount>;
  env?: Record<string, string>;
  /** The provider sends `sid` in its ID tokens and posts logout tokens to the API. */
  backchannelLogout?: boolean;
  /**
   * The API's host: 127.0.0.1 puts it on another site than the provider (localhost), so a browser
   * treats the provider's requests to it as cross-site. Default localhost.
   */
  host?: "localhost" | "127.0.0.1";
  /** The API's clock, for tests that move time (a re-authentication growing old). */
  clock?: Clock;
}): Promise<{ api: TestApi; provider: TestProvider; origin: string }> {
  const port = await freePort();
  const origin = `http://${options.host ?? "localhost"}:${port}`;
  const backchannel = options.backchannelLogout === true ? { backchannel_logout_uri: `${origin}/auth/oidc/corp/backchannel-logout`, backchannel_logout_session_required: true } : {};
  const provider = await startProvider({
    clients: [{ client_id: "api-corp", client_secret: "secret-of-corp-0123456789", redirect_uris: [`${origin}/auth/oidc/corp/callback`], ...backchannel }],
    accounts: options.accounts,
    backchannelLogout: options.backchannelLogout === true,
  });
  const api = await startApi(options.redisUrl ?? null, {
    PORT: String(port),
    ...(options.host === undefined ? {} : { HOST: options.host }),
    PUBLIC_URL: origin,
    OIDC_PROVIDERS: "corp",
    OIDC_CORP_ISSUER: provider.issuer,
    OIDC_CORP_CLIENT_ID: "api-corp",
    OIDC_CORP_CLIENT_SECRET: "secret-of-corp-0123456789",
    ...options.env,
  }, options.clock ?? {}).catch(async (error: unknown) => {
    await provider.stop();
    throw error;
  });
  return { api, provider, origin };
}
