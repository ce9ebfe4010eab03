import type { FastifyPluginCallback } from "fastify";
import type { JsonWebKeySet } from "@revocable-auth/verifier";

/** Verifiers cache the set this long; publish a next key at least this long before it signs. */
const JWKS_CACHE_CONTROL = "public, max-age=300";

export interface JwksOptions {
  /** The public half of every key in the set; null under an HMAC algorithm, which has nothing public. */
  readonly jwks: JsonWebKeySet | null;
}

/** GET /.well-known/jwks.json under ES256/RS256; under HMAC the route does not exist (404). */
export const jwksRoute: FastifyPluginCallback<JwksOptions> = (app, { jwks }, done) => {
  if (jwks) {
    const body = JSON.stringify(jwks);
    app.get("/.well-known/jwks.json", (_request, reply) => {
      reply.header("cache-control", JWKS_CACHE_CONTROL).type("application/json; charset=utf-8").send(body);
    });
  }
  done();
};
