import fastifyCookie from "@fastify/cookie";
import { DPOP_CHALLENGE } from "@revocable-auth/verifier/internal";
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from "fastify";
import type { Throttle } from "../auth/abuse/throttle";
import { LogoutTokenError, type BackchannelLogout } from "../auth/federation/backchannel-logout";
import { FederationStartError, FLOW_TTL_MS, type AuthorizationResponse, type Federation } from "../auth/federation/federation";
import type { LinkCookie } from "../context/context";
import { ThrottledError } from "../errors";
import { refreshCookie, type SameSite } from "./refresh-cookie";

/** Ties a sign-in in flight to the browser that started it; the flow itself stays in the store. */
export const FLOW_COOKIE = "oidc_flow";
/**
 * Set by linkIdentityUrl's answer: the link URL starts linking only in the browser that holds it,
 * so a leaked or forwarded link URL links nobody's provider account to the asking user (forced linking).
 */
export const LINK_COOKIE = "oidc_link";
/**
 * Lax, not Strict: the provider sends the browser back with a top-level GET from its own site,
 * and the cookie must come along. A form_post provider (Apple) sends it back with a cross-site
 * POST, which only a SameSite=None cookie reaches: that flow's cookie is None. CSRF protection does
 * not rest on SameSite here: the cookie names a one-time flow whose `state` the answer must carry,
 * which a forged POST cannot know (a forged one only spends the flow). Scoped to these routes,
 * gone after the callback or the flow's TTL.
 */
const FLOW_COOKIE_OPTIONS = { httpOnly: true, secure: true, sameSite: "lax", path: "/auth/oidc/" } as const;

export interface FederationRouteOptions {
  readonly federation: Federation;
  readonly backchannelLogout: BackchannelLogout;
  /** OIDC_START_MAX_PER_IP: a start stores a flow before anyone proved anything. */
  readonly throttle: Pick<Throttle, "checkFederationStart">;
  /** REFRESH_COOKIE_SAMESITE, as /graphql sets the cookie. */
  readonly refreshCookieSameSite: SameSite;
}

type ProviderParams = { Params: { provider: string } };

/**
 * Provider sign-in's HTTP face (docs/social.md): GET start (302 to the provider), GET callback, or
 * POST for a form_post provider (303 to redirect_to, with the refresh cookie or `?error=<CODE>`). Tokens never go in a URL:
 * the app gets its access token from `refresh` with the cookie set here.
 */
export const federationRoutes: FastifyPluginAsync<FederationRouteOptions> = async (app, { federation, backchannelLogout, throttle, refreshCookieSameSite }) => {
  await app.register(fastifyCookie, { hook: false });
  // The provider posts its logout token as a form (Back-Channel Logout 1.0, 2.5).
  app.addContentTypeParser("application/x-www-form-urlencoded", { parseAs: "string" }, (_request, body, done) => done(null, new URLSearchParams(body as string)));

  app.get<ProviderParams & { Querystring: { redirect_to?: string; link?: string; dpop_jkt?: string } }>("/auth/oidc/:provider/start", async (request, reply) => {
    try {
      const { provider } = request.params;
      const { link, redirect_to: redirectTo, dpop_jkt: dpopJkt } = request.query;
      // A link's flow replaces the one linkIdentityUrl stored (for a signed-in user): only a sign-in adds one.
      if (!link) await throttle.checkFederationStart(request.ip);
      const { flowId, authorizationUrl } = link
        ? await federation.resumeLink(provider, link, readCookie(request, LINK_COOKIE))
        : await federation.start(provider, redirectTo, undefined, dpopJkt);
      if (link) setCookie(request, reply, LINK_COOKIE, "", 0, "lax");
      if (flowId) setFlowCookie(request, reply, flowId, FLOW_TTL_MS, federation.responseMode(provider) === "form_post" ? "none" : "lax");
      return reply.header("cache-control", "no-store").redirect(authorizationUrl, 302);
    } catch (error) {
      if (error instanceof FederationStartError) return refuse(reply, error);
      if (error instanceof ThrottledError) {
        return reply.code(429).header("retry-after", String(error.retryAfterSeconds)).send({ errors: [{ message: error.message, extensions: { code: error.reason } }] });
      }
      throw error;
    }
  });

  const callback = async (request: FastifyRequest<ProviderParams>, reply: FastifyReply, response: AuthorizationResponse) => {
    const outcome = await federation.callback(request.params.provider, readCookie(request, FLOW_COOKIE), response, null, {
      clientIp: request.ip,
      userAgent: request.headers["user-agent"] ?? null,
    });
    setFlowCookie(request, reply, "", 0, "lax");
    if (outcome.status === "signed_in") {
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

function refuse(reply: FastifyReply, error: FederationStartError): FastifyReply {
  if (error.status === 401) void reply.header("www-authenticate", DPOP_CHALLENGE);
  return reply.code(error.status).send({ errors: [{ message: error.message, extensions: { code: error.code } }] });
}

function readCookie(request: FastifyRequest, name: string): string | undefined {
  const header = request.headers.cookie;
  return header ? request.server.parseCookie(header)[name] || undefined : undefined;
}

function setFlowCookie(request: FastifyRequest, reply: FastifyReply, value: string, ttlMs: number, sameSite: "lax" | "none"): void {
  setCookie(request, reply, FLOW_COOKIE, value, ttlMs, sameSite);
}

function setCookie(request: FastifyRequest, reply: FastifyReply, name: string, value: string, ttlMs: number, sameSite: "lax" | "none"): void {
  // fastify appends each set-cookie: the callback also sets the refresh cookie on the same answer.
  void reply.header("set-cookie", request.server.serializeCookie(name, value, { ...FLOW_COOKIE_OPTIONS, sameSite, maxAge: Math.floor(ttlMs / 1000) }));
}

/**
 * linkIdentityUrl's cookie, set on its GraphQL answer. SameSite as the refresh cookie allows: an app
 * on another site (REFRESH_COOKIE_SAMESITE=none) gets it stored only with None; otherwise Lax, which
 * the top-level navigation to the link URL still carries.
 */
export function linkCookie(request: FastifyRequest, reply: FastifyReply, refreshCookieSameSite: SameSite): LinkCookie {
  return { set: (value, ttlMs) => setCookie(request, reply, LINK_COOKIE, value, ttlMs, refreshCookieSameSite === "none" ? "none" : "lax") };
}
