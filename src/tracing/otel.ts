import { FastifyOtelInstrumentation } from "@fastify/otel";
import { SpanStatusCode, type Span } from "@opentelemetry/api";
import { OTLPTraceExporter as OTLPJsonTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { OTLPTraceExporter as OTLPProtobufTraceExporter } from "@opentelemetry/exporter-trace-otlp-proto";
import { registerInstrumentations } from "@opentelemetry/instrumentation";
import { GraphQLInstrumentation } from "@opentelemetry/instrumentation-graphql";
import { IORedisInstrumentation } from "@opentelemetry/instrumentation-ioredis";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { AlwaysOffSampler, AlwaysOnSampler, BatchSpanProcessor, NodeTracerProvider, ParentBasedSampler, TraceIdRatioBasedSampler } from "@opentelemetry/sdk-trace-node";
import type { Logger } from "pino";
import type { TraceSampler, TracingConfig } from "../config";
import type { Tracing } from "./port";

/**
 * The official SDK: spans batched and sent over OTLP/HTTP to OTEL_EXPORTER_OTLP_ENDPOINT (the
 * exporter reads the standard OTEL_EXPORTER_OTLP_* variables itself), W3C trace context taken from
 * an incoming `traceparent`, traces kept as OTEL_TRACES_SAMPLER says.
 */
export function startOpenTelemetry(config: TracingConfig, logger: Logger): Tracing {
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ "service.name": config.serviceName }),
    sampler: sampler(config.sampler),
    spanProcessors: [new BatchSpanProcessor(config.protocol === "http/json" ? new OTLPJsonTraceExporter() : new OTLPProtobufTraceExporter())],
  });
  // The global provider, AsyncLocalStorage context and the W3C traceparent/baggage propagators.
  provider.register();
  registerInstrumentations({
    tracerProvider: provider,
    instrumentations: [
      // The server span is @fastify/otel's: with no http instrumentation under it, it takes the
      // incoming traceparent itself and is of kind SERVER. http's span was a second one around the
      // same request, and with the hook spans it cost more than all the other spans together
      // (README, "Tracing"). It is named as http's was: method and route.
      new FastifyOtelInstrumentation({
        registerOnInitialization: true,
        instrumentHooks: false,
        requestHook: (span, request) => span.updateName(`${request.method} ${request.routeOptions.url ?? ""}`.trim()),
      }),
      // `graphql.parse` (and `graphql.validate`) of a document Apollo has not cached yet, nothing per request.
      new GraphQLParseInstrumentation(),
      // The command name only: by default every argument of EVALSHA went into db.query.text, and our
      // scripts' arguments are password hashes, refresh-token hashes, emails and audit entries.
      new IORedisInstrumentation({ dbStatementSerializer: (command) => command }),
    ],
  });
  const tracer = provider.getTracer("revocable-auth-api");
  logger.info({ serviceName: config.serviceName }, "OpenTelemetry tracing on: spans go to OTEL_EXPORTER_OTLP_ENDPOINT");

  const end = (span: Span, error?: unknown) => {
    if (error !== undefined) {
      // The error's name only: messages of store errors can carry arguments.
      span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.name : "Error" });
    }
    span.end();
  };
  return {
    traced<T extends object>(target: T, spans: Partial<Record<keyof T & string, string>>): T {
      const wrappers = new Map<PropertyKey, unknown>();
      return new Proxy(target, {
        get(object, property, receiver) {
          const value = Reflect.get(object, property, receiver);
          const name = (spans as Record<PropertyKey, string | undefined>)[property];
          if (name === undefined || typeof value !== "function") return value;
          if (!wrappers.has(property)) {
            wrappers.set(property, (...args: unknown[]) =>
              tracer.startActiveSpan(name, (span) => {
                try {
                  const result: unknown = value.apply(object, args);
                  if (!(result instanceof Promise)) return end(span), result;
                  return result.then(
                    (resolved) => (end(span), resolved),
                    (error: unknown) => {
                      end(span, error);
                      throw error;
                    },
                  );
                } catch (error) {
                  end(span, error);
                  throw error;
                }
              }),
            );
          }
          return wrappers.get(property);
        },
      });
    },
    shutdown: () => provider.shutdown(),
  };
}

/**
 * graphql's instrumentation without its patch of `execute`. That patch made three spans on every
 * request, none of which the docs list: the operation's (`query`), and one per resolver, since
 * type-graphql gives every field a resolver of its own (`graphql.resolve me`, `graphql.resolve
 * me.id`); and it walked the document to mask its literals each time. They were 3 of the 8 spans of
 * a `me` (README, "Tracing"). Parsing and validating happen only for a document Apollo has not
 * cached, so with them alone a cached document costs graphql's instrumentation nothing.
 */
class GraphQLParseInstrumentation extends GraphQLInstrumentation {
  protected override init() {
    const definition = super.init();
    definition.files = definition.files.filter((file) => file.name !== "graphql/execution/execute.js");
    return definition;
  }
}

function sampler({ name, ratio }: TraceSampler) {
  const root = name.endsWith("always_on") ? new AlwaysOnSampler() : name.endsWith("always_off") ? new AlwaysOffSampler() : new TraceIdRatioBasedSampler(ratio);
  return name.startsWith("parentbased_") ? new ParentBasedSampler({ root }) : root;
}
