import type { Logger } from "pino";
import type { TracingConfig } from "../config";
import type { Tracing } from "./port";

export type { Tracing } from "./port";

/**
 * Starts the SDK and its instrumentations (fastify, graphql, ioredis). They patch those
 * modules as they are loaded, so this runs before the server module is (src/index.ts). The SDK is
 * loaded here, on demand, never at start-up when tracing is off.
 */
export function startTracing(config: TracingConfig, logger: Logger): Tracing {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded only when tracing is on
  const otel = require("./otel") as typeof import("./otel");
  return otel.startOpenTelemetry(config, logger);
}
