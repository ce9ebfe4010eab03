/**
 * Row (b) of `npm run bench`: the revocation check as JWT-blacklist tutorials write it, on the
 * same Apollo standalone server and schema as row (a): `jsonwebtoken.verify` with the secret as a
 * string (parsed into a key on every call, algorithm not pinned) and one Redis GET of the raw
 * token per request. PORT, REDIS_URL and JWT_SECRET configure it.
 */
import "reflect-metadata";
import { ApolloServer } from "@apollo/server";
import { startStandaloneServer } from "@apollo/server/standalone";
import { GraphQLError } from "graphql";
import { Redis } from "ioredis";
import jwt from "jsonwebtoken";
import type { RequestContext } from "../../src/context/context";
import { buildAuthSchema } from "../../src/graphql/schema";
import { unusedCookie } from "./fixed-identity";

async function main(): Promise<void> {
  const secret = process.env.JWT_SECRET!;
  const redis = new Redis(process.env.REDIS_URL!);
  const apollo = new ApolloServer<RequestContext>({ schema: await buildAuthSchema() });
  const { url } = await startStandaloneServer(apollo, {
    listen: { port: Number(process.env.PORT ?? 4101), host: "127.0.0.1" },
    context: async ({ req }) => {
      const transport = { requestId: "", refreshCookie: unusedCookie, clientIp: "" };
      const token = req.headers.authorization?.replace("Bearer ", "");
      if (!token) return { identity: null, ...transport };
      const claims = jwt.verify(token, secret) as jwt.JwtPayload;
      if (await redis.get(`blacklist:${token}`)) throw new GraphQLError("Token revoked", { extensions: { code: "UNAUTHENTICATED" } });
      const user = { id: claims.sub!, email: claims.email as string, roles: ["USER" as const], createdAt: 0, disabled: false };
      return { identity: { userId: user.id, sessionId: "", jti: "", roles: user.roles, emailVerified: false, expiresAt: claims.exp! * 1000, user, aal: "aal1" as const, amr: ["pwd"] }, ...transport };
    },
  });
  process.stdout.write(`tutorial server at ${url}\n`);
  process.on("SIGTERM", () => void apollo.stop().then(() => redis.quit()).then(() => process.exit(0)));
}

void main();
