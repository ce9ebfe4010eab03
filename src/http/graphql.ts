import type { ApolloServer } from "@apollo/server";
import { fastifyApolloHandler } from "@as-integrations/fastify";
import fastifyCookie from "@fastify/cookie";
import type { DpopTarget } from "@revocable-auth/verifier/internal";
import type { FastifyPluginAsync, FastifyReply, FastifyRequest, RouteHandlerMethod } from "fastify";
import { setImmediate as nextTurn } from "node:timers/promises";
import { MAX_USER_AGENT_LENGTH } from "../auth/audit/audit";
import { clientReported } from "../auth/shared/client-text";
import type { ContextBuilder, RequestContext } from "../context/context";
import { AuthError } from "../errors";
import { cors } from "./cors";
import { prefersHtml } from "./explorer";
import type { OriginPolicy } from "./origins";
import { refreshCookie, type SameSite } from "./refresh-cookie";
import { linkCookie } from "./federation";
import { negotiateLocale } from "../i18n/i18n";

export interface GraphQLRouteOptions {
  readonly apollo: ApolloServer<RequestContext>;
  readonly buildContext: ContextBuilder;
  /** Maps what the context threw (an AuthError) to the GraphQL error Apollo answers with, status and headers included. */
  readonly contextError: (error: unknown) => Error;
  /** What a browser opening GET /graphql sees: the explorer, or a page saying it is off. */
  readonly browserPage: (reply: FastifyReply) => FastifyReply;
  /** The API's own origin and CORS_ORIGINS: who may call with credentials (cors.ts). */
  readonly origins: OriginPolicy;
  readonly refreshCookieSameSite: SameSite;
  /** PUBLIC_URL's origin: when set, the scheme and host a DPoP proof's htu must name, whatever the Host header says. */
  readonly publicOrigin?: string | null;
}

/**
 * GraphQL at /graphql, through Apollo's fastify integration. Everything here is encapsulated: the
 * cookie plugin and the body parsers apply to this route only.
 */
export const graphqlRoute: FastifyPluginAsync<GraphQLRouteOptions> = async (app, { apollo, buildContext, contextError, browserPage, origins, refreshCookieSameSite, publicOrigin = null }) => {
  // Its parser and serializer only (refresh-cookie.ts): no hooks on every request.
  await app.register(fastifyCookie, { hook: false });
  // Before anything reads a body or the cookie: a foreign origin is refused here, whatever it asks.
  await app.register(cors, { origins });

  // JSON bodies only, as before; any other body is left for Apollo to refuse (CSRF prevention
  // for the "simple" content types, 400 for the rest) rather than answered 415 here.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser("application/json", { parseAs: "string" }, app.getDefaultJsonParser("error", "error"));
  app.addContentTypeParser("*", { parseAs: "buffer" }, (_request, _body, done) => done(null, undefined));

  const apolloHandler = fastifyApolloHandler<RequestContext>(apollo, {
    context: async (request, reply) => {
      // Run each operation from the check phase, after the event loop has read every request
      // that is ready, so a burst of requests is executed, and answered, together.
      await nextTurn();
      try {
        const context = await buildContext(request, { requestId: request.id, refreshCookie: refreshCookie(request, reply, refreshCookieSameSite), linkCookie: linkCookie(request, reply, refreshCookieSameSite, publicOrigin), clientIp: clientIpOf(request.ip), userAgent: clientReported(request.headers["user-agent"], MAX_USER_AGENT_LENGTH) ?? undefined, dpopTarget: () => dpopTargetOf(request, publicOrigin), ...localeOf(request.headers["accept-language"]) });
        request.authOutcome = context.identity ? "ok" : "anonymous";
        return context;
      } catch (error) {
        request.authOutcome = error instanceof AuthError ? error.reason : "error";
        throw contextError(error);
      }
    },
  });
  // And write each answer from a later turn than the one that read its request. An answer
  // written in that same turn (an operation that needs no I/O: anonymous, or the embedded store)
  // found Node's socket still held by the previous response and took the pipelined path,
  // buffered and flushed with writev: 2.4 s of writev per 30,000 requests against 0.6 s, and
  // 20-30% more CPU per request than the same request checked against Redis.
  const handler: RouteHandlerMethod = async function (request, reply) {
    const answer: unknown = await apolloHandler.call(this, request, reply);
    await nextTurn();
    return answer;
  };
  app.get("/graphql", function (request, reply) {
    return prefersHtml(request) ? browserPage(reply) : handler.call(this, request, reply);
  });
  // Apollo answers other methods itself (405 with Allow), as it did on every method before.
  app.route({ method: ["POST", "OPTIONS", "PUT", "PATCH", "DELETE"], url: "/graphql", handler });
};

/**
 * The request a DPoP proof must name: its method, and its URL as the client sent it. PUBLIC_URL,
 * when set, is the scheme and host: a Host header is the client's to choose, so without it a proof
 * made for another host that reaches this one (a shared proxy, a second name) would pass. Otherwise
 * fastify's `protocol` and `host`, which read X-Forwarded-Proto and X-Forwarded-Host only from a TRUST_PROXY peer.
 */
function dpopTargetOf(request: FastifyRequest, publicOrigin: string | null): DpopTarget {
  const origin = publicOrigin ?? `${request.protocol}://${request.host}`;
  return { method: request.method, url: `${origin}${request.url}` };
}

/** IPv4 clients of a dual-stack socket (HOST=::) show up as ::ffff:a.b.c.d; count them as a.b.c.d. */
/** A mail caused by this request is in the language it asked for; without Accept-Language, the default. */
const localeOf = (acceptLanguage: string | undefined): { locale?: string } => (acceptLanguage ? { locale: negotiateLocale(acceptLanguage) } : {});

function clientIpOf(address: string | undefined): string {
  if (!address) return "unknown";
  return address.startsWith("::ffff:") && address.includes(".") ? address.slice(7) : address;
}
