import cluster from "node:cluster";
import type { Logger } from "pino";
import { ConfigError, loadConfig, type Config } from "./config";
import { createLogger, exitOnFatal, flushLogs, flushLogsSync } from "./logger";
import { startTracing } from "./tracing/tracing";
import { runPrimary } from "./workers";

async function main(): Promise<void> {
  const config = configOrExit();
  // libuv reads this once, when its thread pool first starts; nothing has used the pool yet.
  process.env.UV_THREADPOOL_SIZE = String(config.threadPoolSize);
  if (config.workers > 1 && cluster.isPrimary) {
    const logger = createLogger(config.logLevel);
    exitOnFatal(logger);
    return runPrimary(config, logger);
  }
  const logger = createLogger(config.logLevel, { worker: cluster.worker?.id });
  exitOnFatal(logger);
  await serve(config, logger);
}

function configOrExit(): Config {
  try {
    return loadConfig(process.env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`${error.message}\n`);
    process.exit(2);
  }
}

/** One serving process: this one (WORKERS=1) or a cluster worker. */
async function serve(config: Config, logger: Logger): Promise<void> {
  const tracing = config.tracing ? startTracing(config.tracing, logger) : null;
  // Loaded only now, after tracing started, so its instrumentations patch http, fastify, graphql and ioredis as they load.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { startServer } = require("./server") as typeof import("./server");
  const server = await startServer(config, { logger, tracing }).catch((error: unknown) => {
    flushLogsSync(logger);
    throw error;
  });
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, "shutting down: finishing in-flight requests");
    await server.stop();
    await tracing?.shutdown().catch(() => undefined);
    logger.info("stopped");
    await flushLogs(logger);
    process.exit(0);
  };
  process.on("SIGTERM", () => void stop("SIGTERM"));
  process.on("SIGINT", () => void stop("SIGINT"));
}

main().catch((error: unknown) => {
  process.stderr.write(`Failed to start: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
