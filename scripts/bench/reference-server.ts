/**
 * Row (a) of `npm run bench`: the ceiling of this stack. Apollo Server 5 standalone (node:http,
 * no framework), the same type-graphql schema as the API, and a context that returns a fixed
 * signed-in user: no token, no store, no logging. Kept in the repository so the comparison can
 * be rerun. PORT picks the port.
 */
import "reflect-metadata";
import { ApolloServer } from "@apollo/server";
import { startStandaloneServer } from "@apollo/server/standalone";
import type { RequestContext } from "../../src/context/context";
import { buildAuthSchema } from "../../src/graphql/schema";
import { FIXED_IDENTITY, unusedCookie } from "./fixed-identity";

async function main(): Promise<void> {
  // Without services: `me` answers from the identity the context carries, and nothing else is asked.
  const apollo = new ApolloServer<RequestContext>({ schema: await buildAuthSchema() });
  const { url } = await startStandaloneServer(apollo, {
    listen: { port: Number(process.env.PORT ?? 4100), host: "127.0.0.1" },
    context: async () => ({ identity: FIXED_IDENTITY, requestId: "", refreshCookie: unusedCookie, clientIp: "" }),
  });
  process.stdout.write(`reference server at ${url}\n`);
  process.on("SIGTERM", () => void apollo.stop().then(() => process.exit(0)));
}

void main();
