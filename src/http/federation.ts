import fastifyCookie from "@fastify/cookie";
import { DPOP_CHALLENGE } from "@revocable-auth/verifier/internal";
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from "fastify";
import type { Throttle } from "../auth/abuse/throttle";
import { LogoutTokenError, type BackchannelLogout } from "../auth/federation/backchannel-logout";
import { FederationStartError, FLOW_TTL_MS, type AuthorizationResponse, type Federation } from "../auth/federation/federation";
import type { OAuthInteractions } from "../auth/oauth/interactions";
import type { LinkCookie } from "../context/context";
import { ThrottledError } from "../errors";
import { refreshCookie, type SameSite } from "./refresh-cookie";

/**
 * Ties a sign-in in flight to the browser that started it; the flow itself stays in the store. One
 * cookie per provider, so starting a sign-in with a second provider does not overwrite the first's.
 * Over https (PUBLIC_URL's scheme) it is a `__Host-` cookie, which a sibling subdomain cannot set
 * or shadow: `__Host-oidc_flow_<provider>`, Path=/ (the prefix requires it). Over plain http (local
 * development, where Secure cookies still work on localhost but the prefix means nothing to a
 * non-secure origin) it is `oidc_flow`, scoped to the provider's own routes (Path=/auth/oidc/<provider>/).
 */
export function flowCookie(providerId: string, https: boolean): CookieName {
  return https ? { name: `__Host-oidc_flow_${providerId}`, path: "/" } : { name: "oidc_flow", path: `/auth/oidc/${providerId}/` };
}
/**
 * Set by linkIdentityUrl's answer: the link URL starts linking only in the browser that holds it,
 * so a leaked or forwarded link URL links nobody's provider account to the asking user (forced
 * linking). `__Host-oidc_link` over https, as the flow cookie; `oidc_link` on /auth/oidc/ over http.
 */
export function linkCookieName(https: boolean): CookieName {
  return https ? { name: "__Host-oidc_link", path: "/" } : { name: "oidc_link", path: "/auth/oidc/" };
}

interface CookieName {
  readonly name: string;
  readonly path: string;
}

/** Whether browsers reach this API over https: PUBLIC_URL's scheme when set (TLS may end at a proxy), else the request's. */
function onHttps(request: FastifyRequest, publicOrigin: string | null): boolean {
  return (publicOrigin ?? `${request.protocol}:`).startsWith("https:");
}

/**
 * Lax, not Strict: the provider sends the browser back with a top-level GET from its own site,
 * and the cookie must come along. A form_post provider (Apple) sends it back with a cross-site
 * POST, which only a SameSite=None cookie reaches: that flow's cookie is None. CSRF protection does
 * not rest on SameSite here: the cookie names a one-time flow whose `state` the answer must carry,
 * which a forged POST cannot know; a forged one neither spends the flow nor clears the cookie.
 * Gone after the callback or the flow's TTL.
 */
const FLOW_COOKIE_OPTIONS = { httpOnly: true, secure: true, sameSite: "lax" } as const;

export interface FederationRouteOptions {
  readonly federation: Federation;
  readonly backchannelLogout: BackchannelLogout;
  /** OIDC_START_MAX_PER_IP: a start stores a flow before anyone proved anything. */
  readonly throttle: Pick<Throttle, "checkFederationStart">;
  /** REFRESH_COOKIE_SAMESITE, as /graphql sets the cookie. */
  readonly refreshCookieSameSite: SameSite;
  /** The OAuth provider's interactions (OAUTH_PROVIDER=on): a sign-in started from one hands its session back to it. */
  readonly interactions?: Pick<OAuthInteractions, "providerSignedIn">;
}

type ProviderParams = { Params: { provider: string } };

/**
 * Provider sign-in's HTTP face (docs/social.md): GET start (302 to the provider), GET callback, or
 * POST for a form_post provider (303 to redirect_to, with the refresh cookie or `?error=<CODE>`). Tokens never go in a URL:
 * the app gets its access token from `refresh` with the cookie set here.
 */
export const federationRoutes: FastifyPluginAsync<FederationRouteOptions> = async (app, { federation, backchannelLogout, throttle, refreshCookieSameSite, interactions }) => {
  await app.register(fastifyCookie, { hook: false });
  // The provider posts its logout token as a form (Back-Channel Logout 1.0, 2.5).
  app.addContentTypeParser("application/x-www-form-urlencoded", { parseAs: "string" }, (_request, body, done) => done(null, new URLSearchParams(body as string)));

  app.get<ProviderParams & { Querystring: { redirect_to?: string; link?: string; dpop_jkt?: string } }>("/auth/oidc/:provider/start", async (request, reply) => {
    try {
      const { provider } = request.params;
      const { link, redirect_to: redirectTo, dpop_jkt: dpopJkt } = request.query;
      // A link's flow replaces the one linkIdentityUrl stored (for a signed-in user): only a sign-in adds one.
      if (!link) await throttle.checkFederationStart(request.ip);
      const https = onHttps(request, federation.publicOrigin);
      const { flowId, authorizationUrl } = link
        ? await federation.resumeLink(provider, link, readCookie(request, linkCookieName(https).name))
        : await federation.start(provider, redirectTo, undefined, dpopJkt);
      if (link) setCookie(request, reply, linkCookieName(https), "", 0, "lax");
      if (flowId) keepFlow(request, reply, federation, provider, flowId);
      // No flow is a failure (a provider not discovered yet): it goes back to redirect_to with
      // ?error=, as 303 like every other failure; a flow goes on to the provider.
      return reply.header("cache-control", "no-store").redirect(authorizationUrl, flowId ? 302 : 303);
    } catch (error) {
      if (error instanceof FederationStartError) return refuse(reply, error);
      if (error instanceof ThrottledError) {
        return reply.code(429).header("retry-after", String(error.retryAfterSeconds)).send({ errors: [{ message: error.message, extensions: { code: error.reason } }] });
      }
      throw error;
    }
  });

  const callback = async (request: FastifyRequest<ProviderParams>, reply: FastifyReply, response: AuthorizationResponse) => {
    const cookie = flowCookie(request.params.provider, onHttps(request, federation.publicOrigin));
    const outcome = await federation.callback(request.params.provider, readCookie(request, cookie.name), response, null, {
      clientIp: request.ip,
      userAgent: request.headers["user-agent"] ?? null,
    });
    // A state mismatch spent nothing (the flow is taken only with its state): the cookie stays for
    // the real answer, and a forged POST to the callback cannot clear it either.
    if (outcome.status !== "failed" || outcome.code !== "OIDC_STATE_MISMATCH") setCookie(request, reply, cookie, "", 0, "lax");
    // An OAuth interaction's sign-in: the session is that interaction's (its grant's `sid`); no app gets its refresh token.
    if (outcome.status === "signed_in" && outcome.interaction !== undefined) await interactions?.providerSignedIn(outcome.interaction, outcome.result);
    else if (outcome.status === "signed_in") {
      const cookie = refreshCookie(request, reply, refreshCookieSameSite);
      cookie.set(outcome.result.refreshToken.token, outcome.result.refreshToken.expiresAt);
    }
    return reply.header("cache-control", "no-store").redirect(outcome.redirectTo, 303);
  };
  app.get<ProviderParams>("/auth/oidc/:provider/callback", (request, reply) => callback(request, reply, { method: "GET", params: new URL(request.url, "http://callback.invalid").searchParams }));
  // response_mode=form_post (Apple): the provider's page posts the answer as a form, cross-site.
  app.post<ProviderParams>("/auth/oidc/:provider/callback", (request, reply) =>
    callback(request, reply, { method: "POST", params: request.body instanceof URLSearchParams ? request.body : new URLSearchParams() }),
  );

  app.post<ProviderParams>("/auth/oidc/:provider/backchannel-logout", async (request, reply) => {
    const form = request.body instanceof URLSearchParams ? request.body : new URLSearchParams();
    void reply.header("cache-control", "no-store");
    try {
      await backchannelLogout.logout(request.params.provider, form.get("logout_token") ?? undefined);
      return reply.code(200).send();
    } catch (error) {
      if (!(error instanceof LogoutTokenError)) throw error;
      return reply.code(400).send({ error: "invalid_request", error_description: error.message });
    }
  });
};

/**
 * The started flow's cookie, in the browser that started it (the start route, or an OAuth
 * interaction's provider button): the callback takes the flow only with it.
 */
export function keepFlow(request: FastifyRequest, reply: FastifyReply, federation: Pick<Federation, "publicOrigin" | "responseMode">, providerId: string, flowId: string): void {
  const cookie = flowCookie(providerId, onHttps(request, federation.publicOrigin));
  setCookie(request, reply, cookie, flowId, FLOW_TTL_MS, federation.responseMode(providerId) === "form_post" ? "none" : "lax");
}

function refuse(reply: FastifyReply, error: FederationStartError): FastifyReply {
  if (error.status === 401) void reply.header("www-authenticate", DPOP_CHALLENGE);
  return reply.code(error.status).send({ errors: [{ message: error.message, extensions: { code: error.code } }] });
}

function readCookie(request: FastifyRequest, name: string): string | undefined {
  const header = request.headers.cookie;
  return header ? request.server.parseCookie(header)[name] || undefined : undefined;
}

function setCookie(request: FastifyRequest, reply: FastifyReply, { name, path }: CookieName, value: string, ttlMs: number, sameSite: "lax" | "none"): void {
  // fastify appends each set-cookie: the callback also sets the refresh cookie on the same answer.
  void reply.header("set-cookie", request.server.serializeCookie(name, value, { ...FLOW_COOKIE_OPTIONS, path, sameSite, maxAge: Math.floor(ttlMs / 1000) }));
}

/**
 * linkIdentityUrl's cookie, set on its GraphQL answer. SameSite as the refresh cookie allows: an app
 * on another site (REFRESH_COOKIE_SAMESITE=none) gets it stored only with None; otherwise Lax, which
 * the top-level navigation to the link URL still carries.
 */
export function linkCookie(request: FastifyRequest, reply: FastifyReply, refreshCookieSameSite: SameSite, publicOrigin: string | null): LinkCookie {
  return { set: (value, ttlMs) => setCookie(request, reply, linkCookieName(onHttps(request, publicOrigin)), value, ttlMs, refreshCookieSameSite === "none" ? "none" : "lax") };
}
