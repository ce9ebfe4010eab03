import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from "fastify";
import fp from "fastify-plugin";
import type { OriginPolicy } from "./origins";

/**
 * What a GraphQL request from a browser needs: its JSON body, the bearer token, its DPoP proof,
 * Apollo Client's CSRF headers and W3C trace context. One list, so a new request header is one entry.
 */
export const CORS_REQUEST_HEADERS = ["content-type", "authorization", "dpop", "apollo-require-preflight", "x-apollo-operation-name", "traceparent", "tracestate"];
/**
 * What a page may read of an answer besides the safelisted headers: the client backs off by
 * Retry-After, and reads a DPoP refusal's challenge (WWW-Authenticate) and server nonce (DPoP-Nonce).
 */
const EXPOSED_HEADERS = ["retry-after", "x-request-id", "www-authenticate", "dpop-nonce"];
const METHODS = "GET, POST";
/** A browser asks again after 10 minutes, so an origin taken out of CORS_ORIGINS stops working within them. */
export const PREFLIGHT_MAX_AGE_SECONDS = 600;

export interface CorsOptions {
  readonly origins: OriginPolicy;
}

/**
 * CORS for the routes of the plugin that registers it (/graphql), from CORS_ORIGINS. A page on a
 * listed origin gets that origin back with credentials, never `*`; a page on a foreign origin gets
 * 403 ORIGIN_NOT_ALLOWED, preflight or not, before Apollo (whose CSRF prevention would answer a
 * misleading 400) or a resolver (which could read the refresh cookie) sees it. Requests without
 * an Origin, and from the API's own origin, pass as before.
 */
const corsHooks: FastifyPluginAsync<CorsOptions> = async (app, { origins }) => {
  app.addHook("onRequest", async (request, reply) => {
    const origin = request.headers.origin;
    // The answer depends on Origin (its headers, or a 403): a cache in front must key on it.
    reply.header("vary", "Origin");
    const verdict = origins.verdict(origin, request.headers.host);
    if (verdict === "absent" || verdict === "own") return;
    if (verdict === "foreign") return refuse(reply, origin!);
    reply.header("access-control-allow-origin", origin);
    reply.header("access-control-allow-credentials", "true");
    if (isPreflight(request)) {
      return reply
        .code(204)
        .header("access-control-allow-methods", METHODS)
        .header("access-control-allow-headers", CORS_REQUEST_HEADERS.join(", "))
        .header("access-control-max-age", String(PREFLIGHT_MAX_AGE_SECONDS))
        .send();
    }
    reply.header("access-control-expose-headers", EXPOSED_HEADERS.join(", "));
  });
};

/** Not encapsulated: the hook applies to the routes of the plugin that registers it. */
export const cors = fp(corsHooks, { name: "cors" });

function isPreflight(request: FastifyRequest): boolean {
  return request.method === "OPTIONS" && request.headers["access-control-request-method"] !== undefined;
}

/** A body a developer reads in the browser's network tab: the code, and the variable to set. */
function refuse(reply: FastifyReply, origin: string): FastifyReply {
  return reply.code(403).send({
    error: "ORIGIN_NOT_ALLOWED",
    message: `Origin ${origin} may not call this API: add it to CORS_ORIGINS (exact origins, comma-separated) to allow a page there`,
  });
}
