import fastifyCookie from "@fastify/cookie";
import { DPOP_CHALLENGE } from "@revocable-auth/verifier/internal";
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from "fastify";
import { LogoutTokenError, type BackchannelLogout } from "../auth/federation/backchannel-logout";
import { FederationStartError, FLOW_TTL_MS, type Federation } from "../auth/federation/federation";
import { refreshCookie, type SameSite } from "./refresh-cookie";

/** Ties a sign-in in flight to the browser that started it; the flow itself stays in the store. */
export const FLOW_COOKIE = "oidc_flow";
/**
 * Lax, not Strict: the provider sends the browser back with a top-level GET from its own site,
 * and the cookie must come along. Scoped to these routes, gone after the callback or the flow's TTL.
 */
const FLOW_COOKIE_OPTIONS = { httpOnly: true, secure: true, sameSite: "lax", path: "/auth/oidc/" } as const;

export interface FederationRouteOptions {
  readonly federation: Federation;
  readonly backchannelLogout: BackchannelLogout;
  /** REFRESH_COOKIE_SAMESITE, as /graphql sets the cookie. */
  readonly refreshCookieSameSite: SameSite;
}

type ProviderParams = { Params: { provider: string } };

/**
 * Provider sign-in's HTTP face (docs/social.md): GET start (302 to the provider), GET callback
 * (303 to redirect_to, with the refresh cookie or `?error=<CODE>`). Tokens never go in a URL:
 * the app gets its access token from `refresh` with the cookie set here.
 */
export const federationRoutes: FastifyPluginAsync<FederationRouteOptions> = async (app, { federation, backchannelLogout, refreshCookieSameSite }) => {
  await app.register(fastifyCookie, { hook: false });
  // The provider posts its logout token as a form (Back-Channel Logout 1.0, 2.5).
  app.addContentTypeParser("application/x-www-form-urlencoded", { parseAs: "string" }, (_request, body, done) => done(null, new URLSearchParams(body as string)));

  app.get<ProviderParams & { Querystring: { redirect_to?: string; link?: string; dpop_jkt?: string } }>("/auth/oidc/:provider/start", async (request, reply) => {
    try {
      const { provider } = request.params;
      const { link, redirect_to: redirectTo, dpop_jkt: dpopJkt } = request.query;
      const { flowId, authorizationUrl } = link ? await federation.resumeLink(provider, link) : await federation.start(provider, redirectTo, undefined, dpopJkt);
      if (flowId) setFlowCookie(request, reply, flowId, FLOW_TTL_MS);
      return reply.header("cache-control", "no-store").redirect(authorizationUrl, 302);
    } catch (error) {
      if (error instanceof FederationStartError) return refuse(reply, error);
      throw error;
    }
  });

  app.get<ProviderParams>("/auth/oidc/:provider/callback", async (request, reply) => {
    const flowId = readFlowCookie(request);
    const currentUrl = new URL(request.url, "http://callback.invalid");
    const outcome = await federation.callback(request.params.provider, flowId, currentUrl, null, {
      clientIp: request.ip,
      userAgent: request.headers["user-agent"] ?? null,
    });
    setFlowCookie(request, reply, "", 0);
    if (outcome.status === "signed_in") {
      const cookie = refreshCookie(request, reply, refreshCookieSameSite);
      cookie.set(outcome.result.refreshToken.token, outcome.result.refreshToken.expiresAt);
    }
    return reply.header("cache-control", "no-store").redirect(outcome.redirectTo, 303);
  });

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

function readFlowCookie(request: FastifyRequest): string | undefined {
  const header = request.headers.cookie;
  return header ? request.server.parseCookie(header)[FLOW_COOKIE] || undefined : undefined;
}

function setFlowCookie(request: FastifyRequest, reply: FastifyReply, value: string, ttlMs: number): void {
  // fastify appends each set-cookie: the callback also sets the refresh cookie on the same answer.
  void reply.header("set-cookie", request.server.serializeCookie(FLOW_COOKIE, value, { ...FLOW_COOKIE_OPTIONS, maxAge: Math.floor(ttlMs / 1000) }));
}
