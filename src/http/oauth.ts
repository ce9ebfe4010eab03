import fastifyCookie from "@fastify/cookie";
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from "fastify";
import type { Federation } from "../auth/federation/federation";
import type { InteractionOutcome, OAuthInteractions } from "../auth/oauth/interactions";
import type { InteractionDetails } from "../auth/oauth/oidc";
import { INTERACTION_PATH, OAUTH_ROUTES, type OAuthProvider } from "../auth/oauth/provider";
import { isAuthError, ThrottledError } from "../errors";
import { keepFlow } from "./federation";
import { interactionConsentPage, interactionMessagePage, interactionMfaPage, interactionSignInPage, interactionView } from "./pages/oauth-interaction";
import { pageHeaders, pageSecurityPolicy, statusOf } from "./pages/pages";
import type { Brand } from "./pages/view";

export interface OAuthRouteOptions {
  readonly oauth: OAuthProvider;
  readonly interactions: OAuthInteractions;
  /** BRAND_NAME and BRAND_LOGO_URL: the interaction pages wear the hosted pages' brand. */
  readonly brand: Brand;
  /** The sign-in providers (OIDC_PROVIDERS set): a provider button sets the flow cookie as /auth/oidc/<id>/start does. */
  readonly providerFlows?: Pick<Federation, "publicOrigin" | "responseMode">;
}

/** An introspection or revocation form: a token (at most 4 KiB, as the verifier bounds it) and a hint. */
const MAX_TOKEN_FORM_BYTES = 16 * 1024;
/** The interaction forms are a few fields; anything larger is not one of them. */
const MAX_FORM_BYTES = 4096;
/** The passkey form carries the assertion's JSON (Passkeys' MAX_RESPONSE_CHARS, 32 KiB), URL-encoded. */
const MAX_PASSKEY_FORM_BYTES = 100 * 1024;

type Uid = { Params: { uid: string } };
type UidProvider = { Params: { uid: string; provider: string } };

/**
 * This API as an OAuth provider, over HTTP (docs/oauth-provider.md): oidc-provider's own endpoints
 * (discovery, authorize, token, userinfo, jwks, introspection, revocation, logout) are handed the
 * raw request, bodies unread; the interaction pages beside them are ours, thin: parse the form,
 * call OAuthInteractions, render. They redirect only to where oidc-provider says (its own resume
 * URL), never to a URL a request names.
 */
export const oauthRoutes: FastifyPluginAsync<OAuthRouteOptions> = async (app, options) => {
  await app.register(providerEndpoints, options);
  await app.register(interactionPages, options);
};

const providerEndpoints: FastifyPluginAsync<OAuthRouteOptions> = async (app, options) => {
  await app.register(tokenChecks, options);
  await app.register(passThrough, options);
};

/** The other endpoints: oidc-provider reads its own bodies (with its own limits), fastify leaves the stream unread. */
const passThrough: FastifyPluginAsync<OAuthRouteOptions> = async (app, { oauth }) => {
  const callback = oauth.provider.callback();
  app.removeAllContentTypeParsers();
  app.addContentTypeParser("*", (_request, _payload, done) => done(null, undefined));
  const forward = async (request: FastifyRequest, reply: FastifyReply) => {
    reply.hijack();
    await callback(request.raw, reply.raw);
  };
  const methods = ["GET", "POST", "OPTIONS"] as const;
  app.route({ method: [...methods], url: "/.well-known/openid-configuration", handler: forward });
  for (const path of Object.values(OAUTH_ROUTES)) {
    if (!TOKEN_CHECKS.includes(path)) app.route({ method: [...methods], url: path, handler: forward });
    app.route({ method: [...methods], url: `${path}/*`, handler: forward });
  }
};

const TOKEN_CHECKS: readonly string[] = [OAUTH_ROUTES.introspection, OAUTH_ROUTES.revocation];

/**
 * Introspection (RFC 7662) and revocation (RFC 7009). oidc-provider refuses JWTs there, and this
 * provider's access tokens are JWTs: the form is read here, a JWT access token is swapped for the
 * handle its record is found by (OAuthProvider.presentedToken), and oidc-provider does the rest:
 * client authentication, the own-tokens-only policy, the answer. It reads the rewritten form as
 * an already parsed body (`req.body`), and says so once per process on stderr ("already parsed
 * request body detected"): expected here. A copy of the request with a fresh stream would avoid
 * that line, but a second IncomingMessage on the same socket closed the connection.
 */
const tokenChecks: FastifyPluginAsync<OAuthRouteOptions> = async (app, { oauth }) => {
  const callback = oauth.provider.callback();
  app.removeAllContentTypeParsers();
  app.addContentTypeParser("application/x-www-form-urlencoded", { parseAs: "string", bodyLimit: MAX_TOKEN_FORM_BYTES }, (_request, body, done) => done(null, body));
  app.addContentTypeParser("*", (_request, _payload, done) => done(null, undefined));
  const handler = async (request: FastifyRequest, reply: FastifyReply) => {
    let presented: string | null = null;
    if (typeof request.body === "string") {
      const form = new URLSearchParams(request.body);
      const token = form.get("token");
      if (token !== null) form.set("token", (presented = oauth.presentedToken(token, request.url.startsWith(OAUTH_ROUTES.introspection) ? "introspection" : "revocation")));
      (request.raw as typeof request.raw & { body?: string }).body = form.toString();
    }
    reply.hijack();
    try {
      await callback(request.raw, reply.raw);
    } finally {
      if (presented !== null) oauth.release(presented);
    }
  };
  for (const url of TOKEN_CHECKS) app.route({ method: ["POST", "OPTIONS"], url, handler });
};

/**
 * The interaction pages: the hosted pages' layout, catalogs (Accept-Language) and brand
 * (src/http/pages/oauth-interaction.ts), a CSRF token bound to the interaction.
 */
const interactionPages: FastifyPluginAsync<OAuthRouteOptions> = async (app, { interactions, brand, providerFlows }) => {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser("application/x-www-form-urlencoded", { parseAs: "string", bodyLimit: MAX_FORM_BYTES }, (_request, body, done) => done(null, new URLSearchParams(body as string)));

  const origin = (request: FastifyRequest) => ({ clientIp: request.ip, userAgent: request.headers["user-agent"] ?? null });
  const form = (request: FastifyRequest) => (request.body instanceof URLSearchParams ? request.body : new URLSearchParams());
  const view = (request: FastifyRequest<Uid>) => interactionView(request.headers["accept-language"], interactions.csrfToken(request.params.uid), brand);

  /** The interaction of this browser (oidc-provider checks its signed cookie) with this uid, or a page saying it is gone. */
  async function load(request: FastifyRequest<Uid>, reply: FastifyReply): Promise<InteractionDetails | null> {
    try {
      const details = await interactions.details(request.raw, reply.raw);
      if (details.uid === request.params.uid) return details;
    } catch {
      // SessionNotFound: no interaction cookie (another browser, a forged cross-site post) or it expired.
    }
    void render(reply, null, interactionMessagePage(view(request), "expired"), brand, 400);
    return null;
  }

  /** A POST whose CSRF token is not this interaction's is refused before anything else is read. */
  async function loadForPost(request: FastifyRequest<Uid>, reply: FastifyReply): Promise<InteractionDetails | null> {
    if (!interactions.csrfMatches(request.params.uid, form(request).get("csrf"))) {
      void render(reply, null, interactionMessagePage(view(request), "refused"), brand, 403);
      return null;
    }
    return load(request, reply);
  }

  function respond(request: FastifyRequest<Uid>, reply: FastifyReply, details: InteractionDetails, outcome: InteractionOutcome) {
    const base = `${INTERACTION_PATH}/${encodeURIComponent(request.params.uid)}`;
    if (outcome.kind === "redirect") return reply.header("cache-control", "no-store").redirect(outcome.to, 303);
    if (outcome.kind === "consent") {
      return render(reply, details, interactionConsentPage(view(request), { action: `${base}/confirm`, abortAction: `${base}/abort`, clientName: outcome.clientName, scopes: outcome.scopes }), brand);
    }
    if (outcome.error?.retryAfterSeconds !== undefined) void reply.header("retry-after", String(outcome.error.retryAfterSeconds));
    const status = outcome.error ? 401 : 200;
    if (outcome.kind === "login") {
      const page = interactionSignInPage(view(request), {
        action: `${base}/login`,
        clientName: outcome.clientName,
        email: outcome.email ?? "",
        error: outcome.error,
        errorAt: outcome.via ?? "password",
        passkey: interactions.passkeysOffered ? { action: `${base}/passkey`, options: `${base}/passkey/options` } : null,
        providers: providerFlows ? interactions.providers().map(({ id, label }) => ({ label, href: `${base}/oidc/${encodeURIComponent(id)}` })) : [],
      });
      return render(reply, details, page, brand, status);
    }
    return render(reply, details, interactionMfaPage(view(request), { action: `${base}/mfa`, clientName: outcome.clientName, error: outcome.error }), brand, status);
  }
  /** A sign-in step's outcome; the second factor awaited: back to this interaction's own page, which now asks for the code. */
  function afterSignIn(request: FastifyRequest<Uid>, reply: FastifyReply, details: InteractionDetails, outcome: InteractionOutcome) {
    if (outcome.kind === "mfa" && outcome.error === null) return reply.header("cache-control", "no-store").redirect(`${INTERACTION_PATH}/${encodeURIComponent(request.params.uid)}`, 303);
    return respond(request, reply, details, outcome);
  }

  // `?error=`: a provider sign-in started here failed at its callback (only Federation's codes are shown).
  app.get<Uid & { Querystring: { error?: string } }>(`${INTERACTION_PATH}/:uid`, async (request, reply) => {
    const details = await load(request, reply);
    return details && respond(request, reply, details, await interactions.show(request.raw, reply.raw, details, typeof request.query.error === "string" ? request.query.error : null));
  });

  app.post<Uid>(`${INTERACTION_PATH}/:uid/login`, async (request, reply) => {
    const details = await loadForPost(request, reply);
    if (!details) return reply;
    const body = form(request);
    return afterSignIn(request, reply, details, await interactions.login(request.raw, reply.raw, details, body.get("email") ?? "", body.get("password") ?? "", origin(request)));
  });

  if (interactions.passkeysOffered) {
    // The page script's first step (templates/pages/passkeys.js), as /auth/sign-in/passkey/options: JSON.
    app.post<Uid>(`${INTERACTION_PATH}/:uid/passkey/options`, async (request, reply) => {
      const details = await loadForPost(request, reply);
      if (!details) return reply;
      try {
        return reply.header("cache-control", "no-store").type("application/json").send(await interactions.passkeyOptions(origin(request)));
      } catch (error) {
        if (!isAuthError(error) || error.code === "SERVICE_UNAVAILABLE") throw error;
        if (error instanceof ThrottledError) void reply.header("retry-after", String(error.retryAfterSeconds));
        return reply.code(statusOf(error)).header("cache-control", "no-store").send({ error: { message: error.message, reason: error.reason } });
      }
    });

    app.post<Uid>(`${INTERACTION_PATH}/:uid/passkey`, { bodyLimit: MAX_PASSKEY_FORM_BYTES }, async (request, reply) => {
      const details = await loadForPost(request, reply);
      if (!details) return reply;
      let response: unknown = null;
      try {
        response = JSON.parse(form(request).get("response") ?? "");
      } catch {
        // Not JSON: Passkeys.login refuses it (INVALID_INPUT), beside the passkey button.
      }
      return afterSignIn(request, reply, details, await interactions.passkeyLogin(request.raw, reply.raw, details, response, origin(request)));
    });
  }

  if (providerFlows) {
    // The flow cookie is written as the start route writes it (fastify's serializeCookie).
    await app.register(fastifyCookie, { hook: false });
    // A provider button: a link, as on /auth/sign-in; the browser leaves for the provider with this interaction's flow cookie.
    app.get<UidProvider>(`${INTERACTION_PATH}/:uid/oidc/:provider`, async (request, reply) => {
      const details = await load(request, reply);
      if (!details) return reply;
      const started = await interactions.startProviderSignIn(details, request.params.provider, request.ip);
      if ("kind" in started) return respond(request, reply, details, started);
      if (started.flowId) keepFlow(request, reply, providerFlows, request.params.provider, started.flowId);
      return reply.header("cache-control", "no-store").redirect(started.authorizationUrl, 302);
    });
  }

  app.post<Uid>(`${INTERACTION_PATH}/:uid/mfa`, async (request, reply) => {
    const details = await loadForPost(request, reply);
    if (!details) return reply;
    return respond(request, reply, details, await interactions.secondFactor(request.raw, reply.raw, details, form(request).get("code") ?? "", origin(request)));
  });

  app.post<Uid>(`${INTERACTION_PATH}/:uid/confirm`, async (request, reply) => {
    const details = await loadForPost(request, reply);
    if (!details) return reply;
    return respond(request, reply, details, await interactions.consent(request.raw, reply.raw, details, origin(request)));
  });

  app.post<Uid>(`${INTERACTION_PATH}/:uid/abort`, async (request, reply) => {
    const details = await loadForPost(request, reply);
    if (!details) return reply;
    return reply.header("cache-control", "no-store").redirect(await interactions.abort(request.raw, reply.raw), 303);
  });
};

/**
 * A page under the hosted pages' CSP (stylesheet from this origin, no inline script), whose
 * form-action also names the client's registered redirect URI: a browser applies form-action to
 * the redirects that follow a post (oidc-provider checked that URI before the interaction began).
 */
function render(reply: FastifyReply, details: InteractionDetails | null, html: string, brand: Brand, status = 200): FastifyReply {
  const redirect = typeof details?.params.redirect_uri === "string" ? originOf(details.params.redirect_uri) : null;
  return pageHeaders(reply, pageSecurityPolicy(redirect ? [redirect] : [], brand.logoUrl)).code(status).type("text/html; charset=utf-8").send(html);
}

function originOf(url: string): string | null {
  try {
    const { origin } = new URL(url);
    return origin === "null" ? null : origin;
  } catch {
    return null;
  }
}
