import "reflect-metadata";
import { ApolloServer } from "@apollo/server";
import { startStandaloneServer } from "@apollo/server/standalone";
import { authChecker, authContext, createVerifier } from "@revocable-auth/verifier";
import { Redis } from "ioredis";
import { buildSchema } from "type-graphql";
import type { NotesConfig } from "./config";
import type { NotesContext } from "./context";
import { serveLive } from "./live";
import { NoteResolver, Notes } from "./notes";

const USER_MISSING_HINT =
  "no user record for this token in REDIS_URL: the auth API must use the same Redis (its REDIS_URL), not its embedded store or another Redis";

/** One JSON line per event on stdout; never a token. */
function log(level: "info" | "warn", msg: string, fields: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify({ level, msg, ...fields })}\n`);
}

export interface RunningNotesService {
  readonly url: string;
  readonly wsUrl: string;
  stop(): Promise<void>;
}

/**
 * Every request: the bearer token is verified against the auth API's public keys, then one MGET
 * on the auth API's Redis tells whether it was revoked. A logout there is refused here on the next request.
 */
export async function startNotesService(config: NotesConfig): Promise<RunningNotesService> {
  // Fail fast while Redis is down (the verifier answers 503 STORE_UNAVAILABLE) rather than queueing.
  const redis = new Redis(config.redisUrl, { connectionName: "notes-service", enableOfflineQueue: false, maxRetriesPerRequest: 0, commandTimeout: 1000 });
  redis.on("error", () => undefined);
  const verifier = createVerifier({
    issuer: config.issuer,
    audience: config.audience,
    keys: { url: config.jwksUrl, maxAgeMs: config.jwksMaxAgeMs, cooldownMs: config.jwksCooldownMs, onRefused: (reason) => log("warn", "JWKS not used", { reason }) },
    redis,
    failureMode: config.failureMode,
    accessTokenTtl: config.accessTokenTtl,
    onRevoked: (cause, token) => log("info", "token refused: TOKEN_REVOKED", { cause, ...token, ...(cause === "user_missing" ? { hint: USER_MISSING_HINT } : {}) }),
  });
  // A DPoP-bound token needs a proof for this URL: the one clients call, not whatever Host they send.
  const auth = authContext(verifier, { url: config.publicUrl });
  const notes = new Notes();

  // noteAdded brings its own source (Notes.watch); type-graphql still asks for a PubSub.
  const pubSub = { publish: () => undefined, subscribe: () => { throw new Error("no topics here"); } };
  const schema = await buildSchema({ resolvers: [NoteResolver], authChecker, validate: false, pubSub });
  const apollo = new ApolloServer<NotesContext>({
    schema,
    includeStacktraceInErrorResponses: false,
  });
  const { url } = await startStandaloneServer(apollo, {
    listen: { port: config.port },
    context: async ({ req }) => ({ ...(await auth({ req })), notes }),
  });
  const live = await serveLive({ port: config.wsPort, url: config.publicWsUrl, schema, verifier, notes, redisUrl: config.redisUrl, redis, failureMode: config.failureMode });
  return {
    url,
    wsUrl: `ws://localhost:${config.wsPort}/`,
    async stop() {
      await live.stop();
      await apollo.stop();
      redis.disconnect();
    },
  };
}
