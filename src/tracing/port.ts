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
