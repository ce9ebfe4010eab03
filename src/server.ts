import "reflect-metadata";
import type { AddressInfo } from "node:net";
import { ApolloServer } from "@apollo/server";
import { ApolloServerPluginLandingPageDisabled } from "@apollo/server/plugin/disabled";
import type { Logger } from "pino";
import { Accounts } from "./auth/accounts";
import { Authenticator } from "./auth/authenticator";
import { Passwords } from "./auth/passwords";
import { Sessions } from "./auth/sessions";
import { Tokens } from "./auth/tokens";
import { systemClock, type Clock } from "./clock";
import type { Config } from "./config";
import { contextBuilder, type RequestContext } from "./context/context";
import { errorFormatter, httpStatusPlugin, toGraphQLError } from "./graphql/errors";
import { introspectionOff } from "./graphql/introspection";
import { oneCredentialMutation } from "./graphql/limits";
import { buildAuthSchema } from "./graphql/schema";
import { createApp } from "./http/app";
import type { RevocationKind } from "./auth/revocation";
import { Metrics, metricsExposition } from "./metrics";
import { instrumentStore } from "./store/instrumented-store";
import { MemoryStore } from "./store/memory/memory-store";
import { connectRedisStore } from "./store/redis/redis-store";
import type { Store } from "./store/store";

const REDIS_CONNECT_WITHIN_MS = 30_000;
/** On shutdown, connections still open this long after the last request are closed regardless. */
const DRAIN_WITHIN_MS = 10_000;

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

  const apollo = new ApolloServer<RequestContext>({
    schema: await buildAuthSchema({ accounts, sessions }),
    formatError: errorFormatter(logger),
    includeStacktraceInErrorResponses: false,
    // Introspection is refused by our own rule when the explorer is off, with a message naming EXPLORER=on.
    introspection: true,
    validationRules: [oneCredentialMutation, ...(config.explorer ? [] : [introspectionOff])],
    // index.ts owns the signals, so shutdown is one ordered sequence: drain HTTP, then the store.
    stopOnTerminationSignals: false,
    // Apollo's own landing page loads from a CDN; the explorer, when on, is served instead.
    plugins: [ApolloServerPluginLandingPageDisabled(), httpStatusPlugin],
  });
  await apollo.start();
  const app = await createApp({
    apollo,
    buildContext: contextBuilder(authenticator),
    contextError: toGraphQLError,
    store,
    metrics,
    metricsExposition: metricsExposition(metrics),
    logger,
    explorer: config.explorer,
    trustProxy: config.trustProxy,
  });
  await app.listen({ port: config.port, host: config.host });

  const port = (app.server.address() as AddressInfo).port;
  const url = `http://localhost:${port}/graphql`;
  logger.info({ url, host: config.host, store: config.redisUrl ? "redis" : "memory" }, "auth API ready");
  return {
    url,
    port,
    store,
    async stop() {
      const force = setTimeout(() => app.server.closeAllConnections(), DRAIN_WITHIN_MS);
      try {
        await app.close();
      } finally {
        clearTimeout(force);
      }
      await apollo.stop();
      await store.close();
    },
  };
}

async function createStore(config: Config, logger: Logger, clock: Clock): Promise<Store> {
  if (config.redisUrl) {
    return connectRedisStore({
      url: config.redisUrl,
      timeoutMs: config.storeTimeoutMs,
      connectWithinMs: REDIS_CONNECT_WITHIN_MS,
      logger,
    });
  }
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
