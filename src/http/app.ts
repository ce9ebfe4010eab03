import type { ApolloServer } from "@apollo/server";
import fastify, { type FastifyInstance } from "fastify";
import type { Logger } from "pino";
import type { JsonWebKeySet } from "@revocable-auth/verifier";
import type { BackchannelLogout } from "../auth/federation/backchannel-logout";
import type { Federation } from "../auth/federation/federation";
import type { Config } from "../config";
import type { ContextBuilder, RequestContext } from "../context/context";
import type { Metrics, MetricsExposition } from "../metrics";
import type { Store } from "../store/store";
import type { BrowserOrigins } from "../config";
import { notFound, transportErrors } from "./errors";
import { browserPage, explorerAssets } from "./explorer";
import { federationRoutes, type FederationRouteOptions } from "./federation";
import { graphqlRoute } from "./graphql";
import { health, type DirectoryProbe } from "./health";
import { jwksRoute } from "./jwks";
import { liveRoute, type LiveRouteOptions } from "./live";
import { metricsRoute } from "./metrics";
import { oauthRoutes, type OAuthRouteOptions } from "./oauth";
import { OriginPolicy } from "./origins";
import { hostedPages, pageAssets, type PagesDeps } from "./pages/pages";
import { HOSTED_PAGES } from "./pages/routes";
import { refreshCookie } from "./refresh-cookie";
import { requestIdFor, requestLog } from "./request-log";
import { unusedConnections } from "./unused-connections";

/** Larger bodies are refused with 413 before any parsing: no operation here needs more. */
export const MAX_BODY_BYTES = 64 * 1024;
/** Headers past this are refused by Node with 431; below it, an oversized token gets a 401. */
const MAX_HEADER_BYTES = 32 * 1024;
/**
 * Node's own defaults, set on purpose: fastify's would be no limit on a request's duration (a
 * slow sender could hold a connection forever) and 72 s of keep-alive.
 */
const REQUEST_TIMEOUT_MS = 300_000;
const KEEP_ALIVE_TIMEOUT_MS = 5_000;

export interface AppParts {
  readonly apollo: ApolloServer<RequestContext>;
  readonly buildContext: ContextBuilder;
  readonly contextError: (error: unknown) => Error;
  readonly store: Pick<Store, "ping">;
  /** The directory, when it is apart from the store (Postgres): /readyz reports it on its own. */
  readonly directory?: DirectoryProbe | null;
  readonly metrics: Metrics;
  readonly metricsExposition: MetricsExposition;
  readonly logger: Logger;
  /** Serves GraphiQL to browsers at GET /graphql, and its assets under /explorer. */
  readonly explorer: boolean;
  /** The public keys, served at /.well-known/jwks.json; null under an HMAC algorithm (404 there). */
  readonly jwks: JsonWebKeySet | null;
  /** TRUST_PROXY as config.ts read it, turned into fastify's form below. */
  readonly trustProxy: Config["trustProxy"];
  /** CORS_ORIGINS, PUBLIC_URL, REFRESH_COOKIE_SAMESITE; absent: same-origin pages only, SameSite=Strict. */
  readonly browsers?: BrowserOrigins;
  /** GraphQL over WebSocket at the same path (src/http/live.ts); absent: no upgrades. */
  readonly live?: LiveRouteOptions;
  /** Provider sign-in under /auth/oidc (src/http/federation.ts); absent: no OIDC_PROVIDERS, no routes. */
  readonly federation?: { readonly federation: Federation; readonly backchannelLogout: BackchannelLogout; readonly throttle: FederationRouteOptions["throttle"] };
  /** The hosted pages under /auth/ (src/http/pages); absent: HOSTED_PAGES=off, no routes. */
  readonly pages?: Omit<PagesDeps, "formOriginAllowed" | "handToApp">;
  /** This API as an OAuth provider (src/http/oauth.ts); absent: OAUTH_PROVIDER is off, no routes. */
  readonly oauth?: OAuthRouteOptions;
}

/**
 * The transport, assembled in one place: each concern is a small fastify plugin. A new route is a
 * plugin in src/http/ and one `register` line below.
 */
export async function createApp(parts: AppParts): Promise<FastifyInstance> {
  const app: FastifyInstance = fastify({
    http: { maxHeaderSize: MAX_HEADER_BYTES },
    bodyLimit: MAX_BODY_BYTES,
    requestTimeout: REQUEST_TIMEOUT_MS,
    keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS,
    trustProxy: trustProxy(parts.trustProxy),
    // Our own request line (request-log.ts) replaces fastify's logging.
    logger: false,
    genReqId: requestIdFor,
    requestIdHeader: false,
    // While draining, a request that arrives on an open keep-alive connection is still served,
    // with `Connection: close`, rather than answered a bare 503 outside our hooks.
    return503OnClosing: false,
  });
  const unused = unusedConnections(app.server, { upgrades: parts.live !== undefined });
  app.addHook("preClose", async () => unused.close());
  app.setNotFoundHandler(notFound);
  const publicOrigin = parts.browsers?.publicOrigin ?? null;
  app.setErrorHandler(transportErrors(parts.logger, MAX_BODY_BYTES));

  await app.register(requestLog, { logger: parts.logger, metrics: parts.metrics });
  await app.register(health, { store: parts.store, directory: parts.directory ?? null });
  await app.register(metricsRoute, { exposition: parts.metricsExposition });
  await app.register(jwksRoute, { jwks: parts.jwks });
  if (parts.explorer) await app.register(explorerAssets);
  await app.register(graphqlRoute, {
    apollo: parts.apollo,
    buildContext: parts.buildContext,
    contextError: parts.contextError,
    browserPage: browserPage(parts.explorer),
    origins: new OriginPolicy(parts.browsers?.corsOrigins ?? [], publicOrigin),
    refreshCookieSameSite: parts.browsers?.refreshCookieSameSite ?? "strict",
    publicOrigin,
  });
  if (parts.federation) {
    await app.register(federationRoutes, {
      ...parts.federation,
      refreshCookieSameSite: parts.browsers?.refreshCookieSameSite ?? "strict",
      ...(parts.oauth ? { interactions: parts.oauth.interactions } : {}),
    });
  }
  if (parts.pages) {
    // Forms are accepted from the pages' own origin only, never from CORS_ORIGINS: no other site posts a sign-in here.
    const ownOrigin = new OriginPolicy([], publicOrigin);
    const sameSite = parts.browsers?.refreshCookieSameSite ?? "strict";
    await app.register(hostedPages(HOSTED_PAGES), {
      ...parts.pages,
      formOriginAllowed: (origin, host) => ["absent", "own"].includes(ownOrigin.verdict(origin, host)),
      handToApp: (request, reply, token, expiresAt) => refreshCookie(request, reply, sameSite).set(token, expiresAt),
    });
  }
  if (parts.oauth) await app.register(oauthRoutes, { ...parts.oauth, ...(parts.federation ? { providerFlows: parts.federation.federation } : {}) });
  // The interaction pages link the hosted pages' stylesheet: served here when the hosted pages are off.
  if (parts.oauth && !parts.pages) await app.register(async (scope) => pageAssets(scope));
  if (parts.live) await app.register(liveRoute, { ...parts.live, publicOrigin, trustProxy: trustProxy(parts.trustProxy) });
  return app;
}

/**
 * Fastify 5 treats a bare number as "trust nothing", so a hop count is given as proxy-addr's
 * function form: the nearest `hops` addresses (the socket's peer first) are proxies. Safe only
 * when nothing reaches this port except through those proxies (docs/configuration.md).
 */
function trustProxy(setting: AppParts["trustProxy"]): false | string[] | ((address: string, hop: number) => boolean) {
  if (setting === false) return false;
  if (typeof setting === "number") return (_address, hop) => hop < setting;
  return [...setting];
}
