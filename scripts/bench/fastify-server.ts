/**
 * Rows (n) and (m) of `npm run bench` (issue 20): Apollo Server 5 on fastify 5 through
 * @as-integrations/fastify, the transport this API runs on, with the same type-graphql schema.
 *   - AUTH=none (row n): a context that returns a fixed signed-in user, nothing else;
 *   - AUTH=minimal (row m): the least a revocation-aware request can do on this stack:
 *     `jsonwebtoken.verify` with a KeyObject and the algorithm pinned, then one MGET of two keys
 *     (the session and the token's revocation marker), refusing when the session is gone or the
 *     token revoked. No request log, metrics, limits or request ids.
 * PORT, AUTH, REDIS_URL, JWT_SECRET, JWT_ISSUER and JWT_AUDIENCE configure it.
 */
import "reflect-metadata";
import { createSecretKey } from "node:crypto";
import { ApolloServer } from "@apollo/server";
import fastifyApollo, { fastifyApolloDrainPlugin } from "@as-integrations/fastify";
import fastify from "fastify";
import { GraphQLError } from "graphql";
import { Redis } from "ioredis";
import jwt from "jsonwebtoken";
import { keys } from "@revocable-auth/verifier/internal";
import type { Identity } from "../../src/auth/tokens/authenticator";
import type { RequestContext } from "../../src/context/context";
import { buildAuthSchema } from "../../src/graphql/schema";
import { FIXED_IDENTITY, unusedCookie } from "./fixed-identity";

const transport = { requestId: "", refreshCookie: unusedCookie, clientIp: "" };

type Context = (request: { headers: Record<string, string | string[] | undefined> }) => Promise<RequestContext>;

function fixedUser(): Context {
  return async () => ({ identity: FIXED_IDENTITY, ...transport });
}

function minimalCheck(): Context {
  const key = createSecretKey(Buffer.from(process.env.JWT_SECRET!));
  const options: jwt.VerifyOptions = { algorithms: ["HS256"], issuer: process.env.JWT_ISSUER, audience: process.env.JWT_AUDIENCE };
  const redis = new Redis(process.env.REDIS_URL!);
  const refused = () => new GraphQLError("Token revoked", { extensions: { code: "UNAUTHENTICATED", http: { status: 401 } } });
  return async ({ headers }) => {
    const header = headers.authorization;
    if (typeof header !== "string" || !header.startsWith("Bearer ")) return { identity: null, ...transport };
    const claims = jwt.verify(header.slice(7), key, options) as jwt.JwtPayload;
    const [session, revoked] = await redis.mget(keys.session(claims.sub!, claims.sid), keys.revokedAccessToken(claims.sub!, claims.jti!));
    if (session === null || revoked !== null) throw refused();
    const user = { id: claims.sub!, email: "bench@example.com", roles: claims.roles, createdAt: 0, disabled: false };
    const identity: Identity = { userId: user.id, sessionId: claims.sid, jti: claims.jti!, roles: user.roles, emailVerified: false, expiresAt: claims.exp! * 1000, user, aal: "aal1", amr: ["pwd"] };
    return { identity, ...transport };
  };
}

async function main(): Promise<void> {
  const app = fastify({ logger: false });
  const apollo = new ApolloServer<RequestContext>({ schema: await buildAuthSchema(), plugins: [fastifyApolloDrainPlugin(app)] });
  await apollo.start();
  const context = process.env.AUTH === "minimal" ? minimalCheck() : fixedUser();
  await app.register(fastifyApollo(apollo), { path: "/", context: (request) => context(request) });
  const url = await app.listen({ port: Number(process.env.PORT ?? 4102), host: "127.0.0.1" });
  process.stdout.write(`fastify reference server (${process.env.AUTH ?? "none"}) at ${url}\n`);
  process.on("SIGTERM", () => void app.close().then(() => process.exit(0)));
}

void main();
