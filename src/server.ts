import "reflect-metadata";
import { once } from "node:events";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { ApolloServer } from "@apollo/server";
import { ApolloServerPluginLandingPageDisabled } from "@apollo/server/plugin/disabled";
import { ApolloServerPluginDrainHttpServer } from "@apollo/server/plugin/drainHttpServer";
import type { Logger } from "pino";
import { Accounts } from "./auth/accounts";
import { Authenticator } from "./auth/authenticator";
import { Passwords } from "./auth/passwords";
import { Sessions } from "./auth/sessions";
import { Tokens } from "./auth/tokens";
import { systemClock, type Clock } from "./clock";
import type { Config } from "./config";
import { contextBuilder, type RequestContext } from "./context/context";
import { errorFormatter, httpStatusPlugin } from "./graphql/errors";
import { oneCredentialMutation } from "./graphql/limits";
import { buildAuthSchema } from "./graphql/schema";
import { createApp } from "./http/app";
import type { RevocationKind } from "./auth/revocation";
import { Metrics } from "./metrics";
import { instrumentStore } from "./store/instrumented-store";
import { MemoryStore } from "./store/memory/memory-store";
import { connectRedisStore } from "./store/redis/redis-store";
import type { Store } from "./store/store";

/** Headers past this are refused by Node with 431; below it, an oversized token gets a 401. */
const MAX_HEADER_BYTES = 32 * 1024;
const REDIS_CONNECT_WITHIN_MS = 30_000;

export interface RunningServer {
  readonly url: string;
  readonly port: number;
  readonly store: Store;
  stop(): Promise<void>;
}

export interface ServerDeps {
  readonly logger: Logger;
  readonly clock?: Clock;
}

/** Composition root: builds the store, the auth services, the schema and the HTTP server. */
export async function startServer(config: Config, { logger, clock = systemClock }: ServerDeps): Promise<RunningServer> {
  warnAboutDevelopmentDefaults(config, logger);
  const metrics = new Metrics();
  const store = instrumentStore(await createStore(config, logger, clock), metrics);
  const onRevoked = (kind: RevocationKind) => metrics.revocations.inc({ kind });
  const tokens = new Tokens({ ...config.jwt, accessTokenTtl: config.accessTokenTtl, refreshTokenTtl: config.refreshTokenTtl }, clock);
  const sessions = new Sessions(store, tokens, onRevoked);
  const accounts = new Accounts(store, await Passwords.create(), sessions, clock, onRevoked);
  const authenticator = new Authenticator(tokens, store, config.revocationFailureMode, logger, {
    onFailOpen: () => metrics.failOpenAcceptances.inc(),
  });
  if (config.admin) await accounts.ensureAdmin(config.admin.email, config.admin.password, logger);

  const httpServer = http.createServer({ maxHeaderSize: MAX_HEADER_BYTES });
  const apollo = new ApolloServer<RequestContext>({
    schema: await buildAuthSchema({ accounts, sessions }),
    formatError: errorFormatter(logger),
    includeStacktraceInErrorResponses: false,
    introspection: config.explorer,
    validationRules: [oneCredentialMutation],
    // index.ts owns the signals, so shutdown is one ordered sequence: drain HTTP, then the store.
    stopOnTerminationSignals: false,
    // Apollo's own landing page loads from a CDN; the explorer, when on, is served instead.
    plugins: [ApolloServerPluginDrainHttpServer({ httpServer }), ApolloServerPluginLandingPageDisabled(), httpStatusPlugin],
  });
  await apollo.start();
  httpServer.on("request", createApp({ apollo, buildContext: contextBuilder(authenticator), store, metrics, logger, explorer: config.explorer }));
  httpServer.listen(config.port);
  await once(httpServer, "listening");

  const port = (httpServer.address() as AddressInfo).port;
  const url = `http://localhost:${port}/graphql`;
  logger.info({ url, store: config.redisUrl ? "redis" : "memory" }, "auth API ready");
  return {
    url,
    port,
    store,
    async stop() {
      await apollo.stop();
      await store.close();
    },
  };
}

async function createStore(config: Config, logger: Logger, clock: Clock): Promise<Store> {
  if (config.redis) {
    return connectRedisStore({
      redis: config.redis,
      timeoutMs: config.storeTimeoutMs,
      connectWithinMs: REDIS_CONNECT_WITHIN_MS,
      logger,
    });
  }
  // loadConfig already refuses production without Redis; this guards other callers of startServer.
  if (config.production) {
    throw new Error("REDIS_URL is required when NODE_ENV=production: the embedded store is single-instance and not durable");
  }
  logger.warn(
    "REDIS_URL is not set: using the embedded in-memory store. It is for one instance only and loses every user and session on restart",
  );
  return new MemoryStore(clock);
}

function warnAboutDevelopmentDefaults(config: Config, logger: Logger): void {
  if (config.jwt.secretGenerated) {
    logger.warn("JWT_SECRET is not set: using a random secret, so tokens stop working when this process restarts");
  }
}
