import type { Logger } from "pino";
import type { TracingConfig } from "../config";

/**
 * OpenTelemetry tracing, behind a narrow port. Off (no OTEL_EXPORTER_OTLP_ENDPOINT), none of it
 * exists: no SDK module is loaded and nothing is wrapped, so the request path is exactly as
 * without it. On, the composition root wraps the methods worth a span of our own.
 */
export interface Tracing {
  /** `target` with each named method run inside a span of that name (a child of the active one). */
  traced<T extends object>(target: T, spans: Partial<Record<keyof T & string, string>>): T;
  /** Sends the spans still buffered. */
  shutdown(): Promise<void>;
}

/**
 * Starts the SDK and its instrumentations (http, fastify, graphql, ioredis). They patch those
 * modules as they are loaded, so this runs before the server module is (src/index.ts). The SDK is
 * loaded here, on demand, never at start-up when tracing is off.
 */
export function startTracing(config: TracingConfig, logger: Logger): Tracing {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded only when tracing is on
  const otel = require("./otel") as typeof import("./otel");
  return otel.startOpenTelemetry(config, logger);
}
