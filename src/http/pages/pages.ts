import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import fastifyCookie from "@fastify/cookie";
import { validate } from "class-validator";
import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from "fastify";
import type { Accounts, Origin } from "../../auth/accounts/accounts";
import type { AuditTrail } from "../../auth/audit/audit-trail";
import { allowedRedirect } from "../../auth/federation/redirects";
import type { EmailChange } from "../../auth/mail-links/email-change";
import type { EmailVerification } from "../../auth/mail-links/email-verification";
import type { Recovery } from "../../auth/mail-links/recovery";
import type { Mfa } from "../../auth/mfa/mfa";
import type { Reauthentication } from "../../auth/mfa/reauthentication";
import type { Passkeys } from "../../auth/passkeys/passkeys";
import type { AuthResult, Sessions } from "../../auth/sessions/sessions";
import type { Authenticator, Identity } from "../../auth/tokens/authenticator";
import { clientReported, MAX_DEVICE_LENGTH } from "../../auth/shared/client-text";
import { AuthError, isAuthError, ThrottledError } from "../../errors";
import { translator } from "../../i18n/i18n";
import { CSRF_COOKIE, CSRF_FIELD, CsrfTokens } from "./csrf";
import { PageSessions, readCookies } from "./page-session";
import { errorSummary, layout, type Brand, type FormErrors, type PageView } from "./view";

export interface PagesDeps {
  readonly accounts: Accounts;
  readonly sessions: Sessions;
  readonly authenticator: Authenticator;
  readonly verification: EmailVerification;
  readonly recovery: Recovery;
  readonly emailChange: EmailChange;
  readonly mfa: Mfa;
  /** `reauthenticate`'s service: the account page's way back to a recent authentication. */
  readonly reauthentication: Reauthentication;
  /** Null with PASSKEYS=off: the pages offer no passkey. */
  readonly passkeys: Passkeys | null;
  readonly auditTrail: AuditTrail;
  /** The sign-in providers (OIDC_PROVIDERS): a button each, to /auth/oidc/<id>/start. */
  readonly providers: readonly { readonly id: string; readonly label: string }[];
  /** ALLOWED_REDIRECT_URLS: the only places `redirect_to` may send the browser. */
  readonly allowedRedirectUrls: readonly string[];
  readonly brand: Brand;
  /** The CSRF tokens' HMAC key; the same on every instance. */
  readonly csrfKey: Buffer;
  /**
   * Whether a form may come from a request with this Origin header (absent, or this API's own):
   * src/http's OriginPolicy decides, passed in so the pages never import the transport around them.
   */
  readonly formOriginAllowed: (origin: string | undefined, host: string | undefined) => boolean;
  /** Puts a sign-in's refresh token where the app takes it from: the refresh cookie of /graphql. */
  readonly handToApp: (request: FastifyRequest, reply: FastifyReply, token: string, expiresAt: number) => void;
}

/** pages.css and passkeys.js, beside the mail templates; read once at start. */
const ASSETS_DIR = resolve(__dirname, "../../../templates/pages");
const ASSETS: Record<string, string> = { "pages.css": "text/css; charset=utf-8", "passkeys.js": "text/javascript; charset=utf-8" };

/**
 * One request of a page: its view (language, CSRF token, redirect_to), the form it posted, the
 * client it came from, and the ways it ends. Every page module works through this alone.
 */
export class PageRequest {
  constructor(
    readonly kit: PagesKit,
    readonly request: FastifyRequest,
    readonly reply: FastifyReply,
    readonly view: PageView,
    readonly form: Readonly<Record<string, string>>,
  ) {}

  get origin(): Origin {
    return { clientIp: this.request.ip, userAgent: this.request.headers["user-agent"]?.slice(0, 256) ?? null, locale: this.view.t.locale };
  }

  /** The session's device name in the session list: the browser's User-Agent, as a client would name itself. */
  get device(): string | null {
    return clientReported(this.request.headers["user-agent"], MAX_DEVICE_LENGTH);
  }

  /** The query's or the form's value of `name`, as one string. */
  param(name: string): string {
    const query = (this.request.query as Record<string, unknown> | undefined)?.[name];
    return this.form[name] ?? (typeof query === "string" ? query : "");
  }

  identify(): Promise<Identity | null> {
    return this.kit.pageSessions.identify(this.request, this.reply, this.origin);
  }

  render(title: string, main: Parameters<typeof layout>[1]["main"], options: { status?: number; scripts?: readonly string[] } = {}): FastifyReply {
    return this.reply.code(options.status ?? 200).type("text/html; charset=utf-8").send(layout(this.view, { title, main, scripts: options.scripts ?? [] }));
  }

  redirect(location: string): FastifyReply {
    return this.reply.redirect(location, 303);
  }

  /**
   * A completed sign-in: to redirect_to with the session handed to the app (its /graphql refresh
   * cookie), else to the account page, which keeps the whole session for itself.
   */
  signedIn(result: AuthResult): FastifyReply {
    const target = this.view.redirectTo;
    if (result.session.pending) {
      this.kit.pageSessions.keep(this.request, this.reply, result, true);
      return this.redirect(target ? `/auth/mfa?redirect_to=${encodeURIComponent(target)}` : "/auth/mfa");
    }
    if (target) this.kit.deps.handToApp(this.request, this.reply, result.refreshToken.token, result.refreshToken.expiresAt);
    this.kit.pageSessions.keep(this.request, this.reply, result, target === null);
    return this.redirect(target ?? "/auth/account");
  }
}

/** What the page modules share: the services, the page sessions, and the shape of a route. */
export class PagesKit {
  readonly pageSessions: PageSessions;
  readonly csrf: CsrfTokens;

  constructor(readonly deps: PagesDeps) {
    this.pageSessions = new PageSessions(deps.authenticator, deps.sessions);
    this.csrf = new CsrfTokens(deps.csrfKey);
  }

  /** A GET page: a CSRF cookie is made for a browser that has none, so its forms carry a token. */
  get(app: FastifyInstance, path: string, handler: (page: PageRequest) => FastifyReply | Promise<FastifyReply>): void {
    app.get(path, (request, reply) => handler(this.begin(request, reply, {})));
  }

  /** A POST: refused (403) from another origin or without the CSRF token of this browser's cookie. */
  post(app: FastifyInstance, path: string, handler: (page: PageRequest) => FastifyReply | Promise<FastifyReply>): void {
    app.post(path, async (request, reply) => {
      const form = request.body instanceof URLSearchParams ? Object.fromEntries(request.body) : {};
      const page = this.begin(request, reply, form);
      const secret = readCookies(request)[CSRF_COOKIE];
      if (!this.deps.formOriginAllowed(request.headers.origin, request.headers.host) || !this.csrf.matches(secret, form[CSRF_FIELD])) {
        return page.render(page.view.t.t("error.csrf"), errorSummary(page.view, { form: { message: page.view.t.t("error.csrf"), reason: "CSRF" } }), { status: 403 });
      }
      return handler(page);
    });
  }

  private begin(request: FastifyRequest, reply: FastifyReply, form: Record<string, string>): PageRequest {
    let secret = readCookies(request)[CSRF_COOKIE];
    if (!secret) {
      secret = CsrfTokens.newSecret();
      void reply.header("set-cookie", request.server.serializeCookie(CSRF_COOKIE, secret, { httpOnly: true, secure: true, sameSite: "lax", path: "/auth/" }));
    }
    const query = request.query as Record<string, unknown> | undefined;
    const candidate = form.redirect_to ?? (typeof query?.redirect_to === "string" ? query.redirect_to : undefined);
    // Anything not in ALLOWED_REDIRECT_URLS is dropped, never followed: the account page is the safe default.
    const redirectTo = candidate ? (allowedRedirect(candidate, this.deps.allowedRedirectUrls)?.href ?? null) : null;
    const view: PageView = { t: translator(request.headers["accept-language"]), csrfToken: this.csrf.tokenFor(secret), redirectTo, brand: this.deps.brand };
    return new PageRequest(this, request, reply, view, form);
  }
}

/** The status a page answers a refused form with: the API's, as /graphql would map the error. */
export function statusOf(error: AuthError): number {
  if (error.code === "UNAUTHENTICATED") return 401;
  if (error.code === "TOO_MANY_REQUESTS") return 429;
  if (error.code === "FORBIDDEN") return 403;
  if (error.code === "NOT_FOUND") return 404;
  return 400;
}

/**
 * An AuthError as form errors, under the field it is about (`fieldOf` decides by reason), with
 * Retry-After for a throttled attempt. Anything else (a store outage) is rethrown: a 503, not a form error.
 */
export function formErrors(page: PageRequest, error: unknown, fieldOf: (reason: string) => string = () => "form"): { errors: FormErrors; status: number } {
  if (!isAuthError(error) || error.code === "SERVICE_UNAVAILABLE") throw error;
  if (error instanceof ThrottledError) void page.reply.header("retry-after", String(error.retryAfterSeconds));
  return { errors: { [fieldOf(error.reason)]: { message: error.message, reason: error.reason } }, status: statusOf(error) };
}

/**
 * The same checks as the GraphQL operation behind the form: its input class's class-validator
 * rules, so a page never accepts what the API refuses (or the other way round).
 */
export async function validateAs<T extends object>(type: new () => T, values: Readonly<Record<string, unknown>>): Promise<FormErrors> {
  const errors: Record<string, { message: string; reason: string }> = {};
  for (const failure of await validate(Object.assign(new type(), values), { forbidUnknownValues: false })) {
    const message = Object.values(failure.constraints ?? {})[0];
    if (message && !errors[failure.property]) errors[failure.property] = { message, reason: "INVALID_INPUT" };
  }
  return errors;
}

/**
 * The security headers of every page: a strict policy (scripts and styles from this origin only,
 * no inline script, no eval), never framed, never cached, and a Referer for this origin only: a mail
 * link's token is in the URL, and must reach no other site. (no-referrer would do that too, but
 * Chromium then sends `Origin: null` with the forms, which the Origin check must refuse.)
 * `formActionOrigins`: where a form's 303 may go besides this origin, since form-action governs
 * that navigation too (redirect_to's allowed origins; an OAuth client's redirect URI).
 */
export function pageSecurityPolicy(formActionOrigins: readonly string[], logoUrl: string | null): string {
  const logoOrigin = logoUrl ? new URL(logoUrl).origin : null;
  return [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    `img-src 'self' data:${logoOrigin ? ` ${logoOrigin}` : ""}`,
    "connect-src 'self'",
    `form-action 'self'${[...new Set(formActionOrigins)].map((origin) => ` ${origin}`).join("")}`,
    "base-uri 'none'",
    "frame-ancestors 'none'",
  ].join("; ");
}

/** The headers every page answers with, under `policy` (pageSecurityPolicy). */
export function pageHeaders(reply: FastifyReply, policy: string): FastifyReply {
  return reply
    .header("content-security-policy", policy)
    .header("x-frame-options", "DENY")
    .header("x-content-type-options", "nosniff")
    .header("referrer-policy", "same-origin")
    .header("cache-control", "no-store");
}

/** pages.css and passkeys.js under /auth/assets/: the hosted pages serve them, and so do the OAuth interaction pages when the hosted pages are off. */
export function pageAssets(app: FastifyInstance): void {
  for (const [name, type] of Object.entries(ASSETS)) {
    const body = readFileSync(resolve(ASSETS_DIR, name), "utf8");
    app.get(`/auth/assets/${name}`, (_request, reply) => pageHeaders(reply, pageSecurityPolicy([], null)).type(type).send(body));
  }
}

export type PageModule = (app: FastifyInstance, kit: PagesKit) => void;

/**
 * The hosted pages under /auth/ (docs/pages.md): server-rendered forms over the same services as
 * the GraphQL operations. A new page is a PageModule in this folder and one entry in `modules`.
 */
export function hostedPages(modules: readonly PageModule[]): FastifyPluginAsync<PagesDeps> {
  return async (app, deps) => {
    await app.register(fastifyCookie, { hook: false });
    app.addContentTypeParser("application/x-www-form-urlencoded", { parseAs: "string" }, (_request, body, done) => done(null, new URLSearchParams(body as string)));
    const redirectOrigins = deps.allowedRedirectUrls.map((url) => new URL(url.replace(/\*$/, "")).origin);
    const policy = pageSecurityPolicy(redirectOrigins, deps.brand.logoUrl);
    app.addHook("onSend", async (_request, reply) => {
      void pageHeaders(reply, policy);
    });
    pageAssets(app);
    const kit = new PagesKit(deps);
    for (const register of modules) register(app, kit);
  };
}
